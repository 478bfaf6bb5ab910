/** Rewrites of a fixture folder into the other published layouts of the same checkpoint. */
import { existsSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { dequantizeBlocks } from "./compare.js";
import { readJson, scratchDir } from "./fixtures.js";

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

/**
 * A copy of a Mimi fixture (float32 safetensors) whose codebooks have `entries` random codes each, so
 * that it decodes the codes an LFM2-Audio model generates; the rest of its weights as they were.
 */
export function codecWithCodebookSize(fixture: string, entries: number): string {
  const out = scratchDir("codec");
  const file = readFileSync(join(fixture, "model.safetensors"));
  const headerLength = Number(file.readBigUInt64LE(0));
  const header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> = JSON.parse(file.subarray(8, 8 + headerLength).toString("utf8"));
  const data = 8 + headerLength;
  let seed = 12345;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const names = Object.keys(header).filter((n) => n !== "__metadata__");
  const parts: Buffer[] = [];
  const written: typeof header = {};
  let offset = 0;
  for (const name of names) {
    const { dtype, shape, data_offsets: [begin, end] } = header[name];
    let bytes = file.subarray(data + begin, data + end);
    let resized = shape;
    if (name.endsWith("codebook.embed_sum")) {
      resized = [entries, shape[1]];
      bytes = Buffer.from(Float32Array.from({ length: entries * shape[1] }, random).buffer);
    } else if (name.endsWith("codebook.cluster_usage")) {
      resized = [entries];
      bytes = Buffer.from(new Float32Array(entries).fill(1).buffer);
    }
    written[name] = { dtype, shape: resized, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  const json = Buffer.from(JSON.stringify(written));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(join(out, "model.safetensors"), Buffer.concat([length, json, ...parts]));
  writeFileSync(join(out, "config.json"), JSON.stringify({ ...readJson(join(fixture, "config.json")), codebook_size: entries }));
  return out;
}

/**
 * A copy of a checkpoint folder whose quantized matrices are replaced by their blocks, dequantized by
 * the independent reader (`dequantizeBlocks`), as F32. `matrixOf(name, shape)` gives the [rows, columns]
 * a tensor is quantized as (a kernel-1 convolution [out, in, 1] as [out, in]), or undefined when the
 * model does not quantize it; `read` widens a tensor to float32 and `quantize` makes the blocks (both
 * lfmkit's, passed in by the test). Every other tensor keeps its dtype and bytes; every other file
 * (config, tokenizer, references) is linked.
 */
export function dequantizedCopy(
  dir: string,
  model: {
    matrixOf: (name: string, shape: readonly number[]) => readonly [rows: number, columns: number] | undefined;
    read: (name: string) => Float32Array;
    quantize: (values: Float32Array, rows: number, columns: number) => Parameters<typeof dequantizeBlocks>[0];
  },
): string {
  const out = scratchDir("dequantized");
  const weightFiles = safetensorsFiles(dir);
  const replace = (name: string, rows: number, columns: number) => dequantizeBlocks(model.quantize(model.read(name), rows, columns), rows, columns);
  for (const file of weightFiles) writeFileSync(join(out, file), replacedFile(readFileSync(join(dir, file)), model.matrixOf, replace));
  for (const name of readdirSync(dir)) {
    if (!weightFiles.includes(name)) symlinkSync(join(dir, name), join(out, name));
  }
  return out;
}

/** The weight files of a folder, as lfmkit finds them: model.safetensors, the shards of its index, or every *.safetensors. */
function safetensorsFiles(dir: string): string[] {
  if (existsSync(join(dir, "model.safetensors"))) return ["model.safetensors"];
  const index = join(dir, "model.safetensors.index.json");
  if (existsSync(index)) return [...new Set(Object.values(readJson<{ weight_map: Record<string, string> }>(index).weight_map))];
  return readdirSync(dir).filter((name) => name.endsWith(".safetensors"));
}

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;

function replacedFile(
  file: Buffer,
  matrixOf: (name: string, shape: readonly number[]) => readonly [number, number] | undefined,
  replace: (name: string, rows: number, columns: number) => Float32Array,
): Buffer {
  const headerLength = Number(file.readBigUInt64LE(0));
  const { __metadata__: metadata, ...header }: Header & { __metadata__?: unknown } = JSON.parse(file.subarray(8, 8 + headerLength).toString("utf8"));
  const data = 8 + headerLength;
  const written: Record<string, unknown> = metadata === undefined ? {} : { __metadata__: metadata };
  const parts: Buffer[] = [];
  let offset = 0;
  for (const [name, { dtype, shape, data_offsets: [begin, end] }] of Object.entries(header)) {
    let bytes = file.subarray(data + begin, data + end);
    let writtenDtype = dtype;
    const matrix = matrixOf(name, shape);
    if (matrix) {
      const [rows, columns] = matrix;
      const count = shape.reduce((a, b) => a * b, 1);
      if (rows * columns !== count) throw new Error(`${name} [${shape}] is not a [${rows}, ${columns}] matrix`);
      const replaced = replace(name, rows, columns);
      bytes = Buffer.from(replaced.buffer, replaced.byteOffset, replaced.byteLength);
      writtenDtype = "F32";
    }
    written[name] = { dtype: writtenDtype, shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  const json = Buffer.from(JSON.stringify(written));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, ...parts]);
}
