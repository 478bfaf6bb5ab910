/**
 * Test support: where the reference fixtures are, which cases they hold, and how to compare
 * against them. Cases are discovered from the files, so the suite runs on any fixture set
 * of the same layout (`LFMKIT_FIXTURES=/path/to/set`).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
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
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join(root, d.name))
    .sort();
}

/** Folders with an LFM2 text checkpoint (dense or MoE) and reference outputs. */
export function textFixtures(): string[] {
  return fixtureDirs().filter((dir) => {
    if (!existsSync(join(dir, "config.json")) || !existsSync(join(dir, "reference.safetensors"))) return false;
    return ["lfm2", "lfm2_moe"].includes(readJson(join(dir, "config.json")).model_type);
  });
}

/** Folders with a tokenizer and a reference.json holding encode/chat cases. */
export function tokenizerFixtures(): string[] {
  return fixtureDirs().filter((dir) => {
    if (!existsSync(join(dir, "tokenizer.json")) || !existsSync(join(dir, "reference.json"))) return false;
    const ref = readJson(join(dir, "reference.json"));
    return Array.isArray(ref.encode) && Array.isArray(ref.chat);
  });
}

/** Where tests cache built graphs: kept between runs, since entries are keyed by checkpoint content. */
export function testCacheDir(): string {
  return process.env.LFMKIT_TEST_CACHE ?? join(tmpdir(), "lfmkit-test-cache");
}

/** A fresh directory for a test's files, under the run's scratch root (removed by vitest's global teardown). */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(process.env.LFMKIT_SCRATCH_DIR ?? tmpdir(), `lfmkit-${prefix}-`));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

/**
 * A copy of a checkpoint folder in the older published layout: `full_attn_idxs` instead of
 * `layer_types`, top-level `rope_theta`, `block_ff_dim`, `tie_embedding`, `torch_dtype`, and the chat
 * template inside tokenizer_config.json (`PreTrainedTokenizerFast`, special tokens as objects).
 * Weights and tokenizer.json are linked, not copied.
 */
export function legacyLayoutCopy(dir: string): string {
  const out = scratchDir("legacy");
  if (existsSync(join(dir, "config.json"))) writeFileSync(join(out, "config.json"), JSON.stringify(legacyConfig(readJson(join(dir, "config.json"))), null, 2));

  const tokenizerConfig = existsSync(join(dir, "tokenizer_config.json")) ? readJson(join(dir, "tokenizer_config.json")) : {};
  const legacyTokenizer: Record<string, unknown> = { ...tokenizerConfig, tokenizer_class: "PreTrainedTokenizerFast" };
  for (const key of ["bos_token", "eos_token", "pad_token"]) {
    const token = tokenizerConfig[key];
    if (typeof token === "string") legacyTokenizer[key] = { content: token, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  if (existsSync(join(dir, "chat_template.jinja"))) legacyTokenizer.chat_template = readFileSync(join(dir, "chat_template.jinja"), "utf8");
  writeFileSync(join(out, "tokenizer_config.json"), JSON.stringify(legacyTokenizer, null, 2));

  for (const name of readdirSync(dir)) {
    if (!["config.json", "tokenizer_config.json", "chat_template.jinja"].includes(name)) symlinkSync(join(dir, name), join(out, name));
  }
  return out;
}

function legacyConfig(config: Record<string, any>): Record<string, unknown> {
  const legacy: Record<string, unknown> = { ...config };
  if (Array.isArray(config.layer_types)) {
    legacy.full_attn_idxs = config.layer_types.flatMap((t: string, i: number) => (t === "full_attention" ? [i] : []));
    delete legacy.layer_types;
  }
  if (config.rope_parameters) {
    legacy.rope_theta = config.rope_parameters.rope_theta;
    delete legacy.rope_parameters;
  }
  if (config.model_type === "lfm2" && config.intermediate_size !== undefined) {
    legacy.block_ff_dim = config.intermediate_size;
    delete legacy.intermediate_size;
  }
  if (config.tie_word_embeddings !== undefined) {
    legacy.tie_embedding = config.tie_word_embeddings;
    delete legacy.tie_word_embeddings;
  }
  if (config.dtype !== undefined) {
    legacy.torch_dtype = config.dtype;
    delete legacy.dtype;
  }
  return legacy;
}

/** Steps whose reference top-1/top-2 logit margin is below this are near-ties that float rounding may flip. */
export const NEAR_TIE = 1e-3;

/**
 * How many leading greedy steps are comparable token for token: up to (not including) the first
 * step whose reference logits [steps, vocab] have a top-1/top-2 margin below NEAR_TIE.
 */
export function comparableGreedySteps(stepLogits: Float32Array, vocab: number): number {
  const steps = stepLogits.length / vocab;
  for (let s = 0; s < steps; s++) {
    let first = -Infinity;
    let second = -Infinity;
    for (let i = s * vocab; i < (s + 1) * vocab; i++) {
      const x = stepLogits[i];
      if (x > first) [first, second] = [x, first];
      else if (x > second) second = x;
    }
    if (first - second < NEAR_TIE) return s;
  }
  return steps;
}

/**
 * Independent reading of the MatMulNBits block layout (code − 2^(bits−1), times the block scale),
 * for checking lfmkit's quantizer against ONNX Runtime and GGUF blocks.
 */
export function dequantizeBlocks(
  q: { bits: 4 | 8; blockSize: number; data: Uint8Array; scales: Float32Array; blocksPerRow: number },
  rows: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(rows * cols);
  const blob = (q.blockSize * q.bits) / 8;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const block = Math.floor(c / q.blockSize);
      const j = c % q.blockSize;
      const base = (r * q.blocksPerRow + block) * blob;
      const code = q.bits === 8 ? q.data[base + j] : (q.data[base + (j >> 1)] >> ((j & 1) * 4)) & 15;
      out[r * cols + c] = (code - (1 << (q.bits - 1))) * q.scales[r * q.blocksPerRow + block];
    }
  }
  return out;
}
