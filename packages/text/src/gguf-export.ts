/**
 * Writes a dense LFM2 checkpoint (Hugging Face folder) as a llama.cpp GGUF (architecture notes §6):
 * matrices as F32, F16, Q8_0 or Q4_0; norms and the conv kernel as F32.
 */
import { existsSync } from "node:fs";
import { Checkpoint, LfmkitError, floatToHalf, quantizeGgml, writeGguf, type GgmlType, type GgufEntry, type GgufTensorData } from "@lfmkit/core";
import { readTextConfig } from "./config.js";
import { ggufTensorFor } from "./gguf-names.js";

const FILE_TYPE: Record<GgmlType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7, BF16: 32 };

/**
 * Exports `dir` to `path` (skipped if `path` exists) with `tokenizer` as the tokenizer.ggml.* metadata.
 * Returns `path`.
 */
export function exportGguf(dir: string, path: string, type: "F32" | "F16" | "Q8_0" | "Q4_0", tokenizer: Record<string, GgufEntry>): string {
  if (existsSync(path)) return path;
  const { config, prefix } = readTextConfig(dir);
  if (config.moe) throw new LfmkitError("GGUF export covers dense LFM2 checkpoints", dir);
  if (config.convBias) {
    throw new LfmkitError("conv_bias is true, but llama.cpp's lfm2 architecture has no short-conv bias tensors, so this checkpoint has no GGUF form", dir);
  }
  const checkpoint = Checkpoint.open(dir);
  const arch = "lfm2";
  const metadata: Record<string, GgufEntry> = {
    "general.architecture": { type: "string", value: arch },
    "general.name": { type: "string", value: "lfmkit export" },
    "general.file_type": { type: "u32", value: FILE_TYPE[type] },
    [`${arch}.block_count`]: { type: "u32", value: config.layerTypes.length },
    [`${arch}.context_length`]: { type: "u32", value: config.maxPositions },
    [`${arch}.embedding_length`]: { type: "u32", value: config.hiddenSize },
    [`${arch}.feed_forward_length`]: { type: "u32", value: config.ffnWidth },
    [`${arch}.attention.head_count`]: { type: "u32", value: config.heads },
    [`${arch}.attention.head_count_kv`]: { type: "u32[]", value: config.layerTypes.map((t) => (t === "conv" ? 0 : config.kvHeads)) },
    [`${arch}.rope.freq_base`]: { type: "f32", value: config.ropeTheta },
    [`${arch}.attention.layer_norm_rms_epsilon`]: { type: "f32", value: config.normEps },
    [`${arch}.shortconv.l_cache`]: { type: "u32", value: config.convKernel },
    [`${arch}.vocab_size`]: { type: "u32", value: config.vocabSize },
    ...tokenizer,
  };
  const tensors: GgufTensorData[] = checkpoint.names().flatMap((name) => {
    const relative = name.startsWith(prefix) ? name.slice(prefix.length) : name;
    if (relative === "lm_head.weight" && config.tieEmbeddings) return [];
    const location = ggufTensorFor(relative);
    if (!location) throw new LfmkitError(`no GGUF name for tensor ${name}`, dir);
    const shape = [...checkpoint.info(name).shape];
    const isKernel = relative.endsWith("conv.conv.weight");
    const tensorType: GgmlType = shape.length === 2 && !isKernel ? type : "F32";
    return [{ name: location.name, shape: isKernel ? [shape[0], shape[shape.length - 1]] : shape, type: tensorType, bytes: () => encode(checkpoint.readF32(name), tensorType) }];
  });
  writeGguf(path, metadata, tensors);
  return path;
}

function encode(values: Float32Array, type: GgmlType): Uint8Array {
  switch (type) {
    case "F32":
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case "F16":
      return new Uint8Array(Uint16Array.from(values, floatToHalf).buffer);
    case "Q8_0":
    case "Q4_0":
      return quantizeGgml(type, values);
    default:
      throw new LfmkitError(`cannot write ${type} tensors`);
  }
}
