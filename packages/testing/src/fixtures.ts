/**
 * Where the reference fixtures are and which cases they hold. Cases are discovered from the files
 * (a folder's config.json `model_type` / `architectures`, or its reference.json), so the suite runs on
 * any fixture set of the same layout (`LFMKIT_FIXTURES=/path/to/set`).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "pnpm-workspace.yaml"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("could not find the lfmkit repository root");
    dir = parent;
  }
  return dir;
}

export function fixturesRoot(): string {
  const root = process.env.LFMKIT_FIXTURES ? resolve(process.env.LFMKIT_FIXTURES) : join(repoRoot(), "..", "shared", "fixtures");
  if (!existsSync(root)) throw new Error(`fixtures not found at ${root} (set LFMKIT_FIXTURES)`);
  return root;
}

export function readJson<T = any>(path: string): T {
  return JSON.parse(readFileSync(path, "utf8")) as T;
}

function fixtureDirs(): string[] {
  const root = fixturesRoot();
  // Folders may be links (a fixture set assembled from others).
  return readdirSync(root)
    .map((name) => join(root, name))
    .filter((path) => statSync(path).isDirectory())
    .sort();
}

/** The kinds of checkpoint fixture, told apart by config.json's `model_type` or `architectures`. */
const KINDS = {
  text: { modelTypes: ["lfm2", "lfm2_moe"], architectures: ["Lfm2ForCausalLM", "Lfm2MoeForCausalLM"] },
  visionLanguage: { modelTypes: ["lfm2_vl", "lfm2-vl"], architectures: ["Lfm2VlForConditionalGeneration"] },
  conformer: { modelTypes: ["parakeet_encoder"], architectures: ["ParakeetEncoder"] },
  mimi: { modelTypes: ["mimi"], architectures: ["MimiModel"] },
  audioModel: { modelTypes: [], architectures: ["LFM2AudioModel"] },
} as const;

export type FixtureKind = keyof typeof KINDS;

/** Checkpoint folders of one kind that also hold their reference outputs. */
export function checkpointFixtures(kind: FixtureKind): string[] {
  const { modelTypes, architectures } = KINDS[kind];
  return fixtureDirs().filter((dir) => {
    const hasReference = readdirSync(dir).some((name) => name.startsWith("reference") && name.endsWith(".safetensors"));
    if (!existsSync(join(dir, "config.json")) || !hasReference) return false;
    const config = readJson(join(dir, "config.json"));
    const declared: string[] = Array.isArray(config.architectures) ? config.architectures : [];
    return (modelTypes as readonly string[]).includes(config.model_type) || declared.some((a) => (architectures as readonly string[]).includes(a));
  });
}

/** Folders with an LFM2 text checkpoint (dense or MoE) and reference outputs. */
export function textFixtures(): string[] {
  return checkpointFixtures("text");
}

/** Folders with a tokenizer and a reference.json holding encode/chat cases. */
export function tokenizerFixtures(): string[] {
  return fixtureDirs().filter((dir) => {
    if (!existsSync(join(dir, "tokenizer.json")) || !existsSync(join(dir, "reference.json"))) return false;
    const ref = readJson(join(dir, "reference.json"));
    return Array.isArray(ref.encode) && Array.isArray(ref.chat);
  });
}

/** Where tests cache built graphs: kept between runs, since entries are keyed by the checkpoint files. */
export function testCacheDir(): string {
  return process.env.LFMKIT_TEST_CACHE ?? join(tmpdir(), "lfmkit-test-cache");
}

/** A fresh directory for a test's files, under the run's scratch root (removed by vitest's global teardown). */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(process.env.LFMKIT_SCRATCH_DIR ?? tmpdir(), `lfmkit-${prefix}-`));
}
