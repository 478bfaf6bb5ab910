export { checkpointFixtures, fixturesRoot, readJson, repoRoot, scratchDir, testCacheDir, textFixtures, tokenizerFixtures, type FixtureKind } from "./fixtures.js";
export { NEAR_TIE, comparableGreedySteps, cosine, dequantizeBlocks, maxAbsDiff, meanAbsDiff } from "./compare.js";
export { codecWithCodebookSize, legacyLayoutCopy, replacedMatricesCopy } from "./layouts.js";
