/**
 * Writes an LFM2 or LFM2-MoE checkpoint (Hugging Face folder) as a llama.cpp GGUF (architecture notes
 * §6), with the metadata and tensor types llama.cpp's converter writes: matrices, the stacked experts
 * among them, as F32, F16, Q8_0 or Q4_0 (F16 where a row is not whole 32-value blocks); norms, the conv
 * kernel, the router and the expert bias as F32.
 */
import { existsSync } from "node:fs";
import { Checkpoint, LfmkitError, floatToHalf, quantizeGgml, writeGguf, type GgufEntry, type GgufTensorData } from "@lfmkit/core";
import { readTextConfig, type Lfm2Config, type MoeConfig } from "./config.js";
import { ggufTensorFor } from "./gguf-names.js";

export type GgufExportType = "F32" | "F16" | "Q8_0" | "Q4_0";

const FILE_TYPE: Record<GgufExportType, number> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 };
/** gguf-py's `ExpertGatingFuncType.SIGMOID`. */
const SIGMOID_GATING = 2;
/** Values per Q8_0 / Q4_0 block. */
const GGML_BLOCK = 32;

/**
 * Exports `dir` to `path` (skipped if `path` exists) with `tokenizer` as the tokenizer.ggml.* metadata.
 * Returns `path`.
 */
export function exportGguf(dir: string, path: string, type: GgufExportType, tokenizer: Record<string, GgufEntry>): string {
  if (existsSync(path)) return path;
  const { config, prefix } = readTextConfig(dir);
  const arch = config.moe ? "lfm2moe" : "lfm2";
  refuseWhatLlamaCppCannotRun(config, arch, dir);
  const metadata: Record<string, GgufEntry> = {
    "general.architecture": { type: "string", value: arch },
    "general.name": { type: "string", value: "lfmkit export" },
    "general.file_type": { type: "u32", value: FILE_TYPE[type] },
    ...architectureMetadata(arch, config),
    ...tokenizer,
  };
  writeGguf(path, metadata, ggufTensors(Checkpoint.open(dir), prefix, config, type, dir));
  return path;
}

/** What a GGUF of this architecture cannot hold, so llama.cpp would run a different model. */
function refuseWhatLlamaCppCannotRun(config: Lfm2Config, arch: string, dir: string): void {
  const refuse = (what: string) => {
    throw new LfmkitError(`${what}, so this checkpoint has no GGUF form`, dir);
  };
  if (config.convBias) refuse(`conv_bias is true, but llama.cpp's ${arch} architecture has no short-conv bias tensors`);
  if (config.moe && !config.moe.normTopkProb) refuse(`norm_topk_prob is false, but llama.cpp's ${arch} always normalizes the chosen experts' weights`);
  if (config.moe && config.moe.routedScalingFactor !== 1) {
    refuse(`routed_scaling_factor is ${config.moe.routedScalingFactor}, but llama.cpp's ${arch} does not scale the experts' weights`);
  }
}

/** The `lfm2.*` / `lfm2moe.*` keys llama.cpp reads. */
function architectureMetadata(arch: string, config: Lfm2Config): Record<string, GgufEntry> {
  const u32 = (value: number): GgufEntry => ({ type: "u32", value });
  const f32 = (value: number): GgufEntry => ({ type: "f32", value });
  const entries: [string, GgufEntry][] = [
    ["block_count", u32(config.layerTypes.length)],
    ["context_length", u32(config.maxPositions)],
    ["embedding_length", u32(config.hiddenSize)],
    ["feed_forward_length", u32(config.ffnWidth)],
    ["attention.head_count", u32(config.heads)],
    ["attention.head_count_kv", { type: "u32[]", value: config.layerTypes.map((t) => (t === "conv" ? 0 : config.kvHeads)) }],
    ["rope.freq_base", f32(config.ropeTheta)],
    ["attention.layer_norm_rms_epsilon", f32(config.normEps)],
    ["shortconv.l_cache", u32(config.convKernel)],
    ["vocab_size", u32(config.vocabSize)],
  ];
  const { moe } = config;
  if (moe) {
    entries.push(
      ["expert_count", u32(moe.experts)],
      ["expert_used_count", u32(moe.expertsPerToken)],
      ["expert_feed_forward_length", u32(moe.expertWidth)],
      ["leading_dense_block_count", u32(moe.denseLayers)],
      ["expert_gating_func", u32(SIGMOID_GATING)],
    );
  }
  return Object.fromEntries(entries.map(([key, entry]) => [`${arch}.${key}`, entry]));
}

/**
 * Every tensor under its GGUF name. An MoE layer's experts become three stacked tensors
 * [experts, rows, columns]. llama.cpp needs every MoE layer's `exp_probs_b`, so a layer without one
 * (or a checkpoint whose `use_expert_bias` is false) gets zeros: the same choice of experts.
 */
function ggufTensors(checkpoint: Checkpoint, prefix: string, config: Lfm2Config, type: GgufExportType, dir: string): GgufTensorData[] {
  const tensors: GgufTensorData[] = [];
  const stacks = new Map<string, string[]>();
  for (const name of checkpoint.names()) {
    const relative = name.startsWith(prefix) ? name.slice(prefix.length) : name;
    if (relative === "lm_head.weight" && config.tieEmbeddings) continue;
    if (relative.endsWith(".expert_bias") && !config.moe?.useExpertBias) continue;
    const location = ggufTensorFor(relative);
    if (!location) throw new LfmkitError(`no GGUF name for tensor ${name}`, dir);
    if (location.expert === undefined) {
      tensors.push(singleTensor(checkpoint, name, location.name, type));
      continue;
    }
    if (!stacks.has(location.name)) {
      const experts: string[] = [];
      stacks.set(location.name, experts);
      tensors.push(stackedTensor(checkpoint, experts, location.name, [config.moe!.experts, ...checkpoint.info(name).shape], type));
    }
    stacks.get(location.name)![location.expert] = name;
  }
  for (const [stacked, experts] of stacks) {
    const missing = Array.from({ length: config.moe!.experts }, (_, e) => e).filter((e) => experts[e] === undefined);
    if (missing.length > 0) throw new LfmkitError(`experts ${missing.join(", ")} of ${stacked} are missing from the checkpoint`, dir);
  }
  if (config.moe) tensors.push(...zeroExpertBiases(tensors, config.moe, config.layerTypes.length));
  return tensors;
}

/** F32 zeros for the `exp_probs_b` of every MoE layer that has none written. */
function zeroExpertBiases(written: readonly GgufTensorData[], moe: MoeConfig, layers: number): GgufTensorData[] {
  const moeLayers = Array.from({ length: layers - moe.denseLayers }, (_, i) => moe.denseLayers + i);
  return moeLayers
    .map((layer) => ggufTensorFor(`layers.${layer}.feed_forward.expert_bias`)!.name)
    .filter((name) => !written.some((t) => t.name === name))
    .map((name) => ({ name, shape: [moe.experts], type: "F32", chunks: () => [new Uint8Array(moe.experts * 4)] }));
}

function singleTensor(checkpoint: Checkpoint, name: string, ggufName: string, requested: GgufExportType): GgufTensorData {
  const shape = checkpoint.info(name).shape;
  // The conv kernel [D, 1, L] is stored as [D, L].
  const stored = ggufName.endsWith("shortconv.conv.weight") ? [shape[0], shape[shape.length - 1]] : shape;
  const type = storedType(ggufName, stored, requested);
  return { name: ggufName, shape: stored, type, chunks: () => [encode(checkpoint.readF32(name), type)] };
}

/** The experts' tensors (names by expert index) as one [experts, rows, columns] tensor, read and written one expert at a time. */
function stackedTensor(checkpoint: Checkpoint, experts: readonly string[], ggufName: string, shape: readonly number[], requested: GgufExportType): GgufTensorData {
  const type = storedType(ggufName, shape, requested);
  return {
    name: ggufName,
    shape,
    type,
    *chunks() {
      for (const expert of experts) yield encode(checkpoint.readF32(expert), type);
    },
  };
}

/** The converter's choice: vectors, the conv kernel and the router stay F32; a quantized type needs rows of whole blocks. */
function storedType(ggufName: string, shape: readonly number[], requested: GgufExportType): GgufExportType {
  if (shape.length < 2 || ggufName.endsWith("shortconv.conv.weight") || ggufName.endsWith("ffn_gate_inp.weight")) return "F32";
  const isQuantized = requested === "Q8_0" || requested === "Q4_0";
  return isQuantized && shape[shape.length - 1] % GGML_BLOCK !== 0 ? "F16" : requested;
}

function encode(values: Float32Array, type: GgufExportType): Uint8Array {
  switch (type) {
    case "F32":
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case "F16":
      return new Uint8Array(Uint16Array.from(values, floatToHalf).buffer);
    case "Q8_0":
    case "Q4_0":
      return quantizeGgml(type, values);
  }
}
