export { checkpointFixtures, fixturesRoot, readJson, repoRoot, scratchDir, testCacheDir, textFixtures, tokenizerFixtures, type FixtureKind } from "./fixtures.js";
export { NEAR_TIE, SUMMATION_ORDER_BOUND, comparableGreedySteps, cosine, dequantizeBlocks, maxAbsDiff, meanAbsDiff, relativeError } from "./compare.js";
export { codecWithCodebookSize, dequantizedCopy, legacyLayoutCopy } from "./layouts.js";
