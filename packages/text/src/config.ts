import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { z } from "zod";

export type LayerType = "conv" | "full_attention";

/** The decoder settings every LFM2 text model needs, whatever layout its config.json uses. */
export interface Lfm2Config {
  readonly modelType: "lfm2" | "lfm2_moe";
  readonly vocabSize: number;
  readonly hiddenSize: number;
  readonly layerTypes: readonly LayerType[];
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly normEps: number;
  readonly ropeTheta: number;
  readonly maxPositions: number;
  readonly convKernel: number;
  readonly convBias: boolean;
  readonly tieEmbeddings: boolean;
  /** Effective SwiGLU width of the dense feed-forward. */
  readonly ffnWidth: number;
  readonly moe: MoeConfig | undefined;
  readonly eosTokenIds: readonly number[];
  readonly bosTokenId: number | undefined;
}

export interface MoeConfig {
  readonly denseLayers: number;
  readonly experts: number;
  readonly expertsPerToken: number;
  readonly expertWidth: number;
  readonly useExpertBias: boolean;
  readonly normTopkProb: boolean;
  readonly routedScalingFactor: number;
}

const tokenIds = z.union([z.number().int(), z.array(z.number().int())]).nullish();

/** Raw keys from every published layout (HF current and older, and LiquidAI's original names). */
const rawSchema = z
  .object({
    model_type: z.string(),
    vocab_size: z.number().int().positive(),
    hidden_size: z.number().int().positive().optional(),
    block_dim: z.number().int().positive().optional(),
    num_hidden_layers: z.number().int().positive(),
    num_attention_heads: z.number().int().positive().optional(),
    num_heads: z.number().int().positive().optional(),
    num_key_value_heads: z.number().int().positive(),
    head_dim: z.number().int().positive().nullish(),
    norm_eps: z.number().positive().default(1e-5),
    rope_theta: z.number().positive().optional(),
    theta: z.number().positive().optional(),
    rope_parameters: z.object({ rope_theta: z.number().positive().optional(), rope_type: z.string().optional() }).passthrough().nullish(),
    max_position_embeddings: z.number().int().positive().default(128000),
    conv_L_cache: z.number().int().min(1).default(3),
    conv_bias: z.boolean().default(false),
    layer_types: z.array(z.enum(["conv", "full_attention"])).nullish(),
    full_attn_idxs: z.array(z.number().int().nonnegative()).nullish(),
    intermediate_size: z.number().int().positive().optional(),
    block_ff_dim: z.number().int().positive().optional(),
    block_auto_adjust_ff_dim: z.boolean().default(true),
    block_ffn_dim_multiplier: z.number().nullish().default(1.0),
    block_multiple_of: z.number().int().positive().default(256),
    tie_word_embeddings: z.boolean().optional(),
    tie_embedding: z.boolean().optional(),
    eos_token_id: tokenIds,
    bos_token_id: z.number().int().nullish(),
    num_dense_layers: z.number().int().nonnegative().default(2),
    num_experts: z.number().int().positive().optional(),
    num_experts_per_tok: z.number().int().positive().optional(),
    moe_intermediate_size: z.number().int().positive().optional(),
    use_expert_bias: z.boolean().default(true),
    norm_topk_prob: z.boolean().default(true),
    routed_scaling_factor: z.number().default(1.0),
  })
  .passthrough();

const SUPPORTED = ["lfm2", "lfm2_moe"];
const VISION_LANGUAGE = ["lfm2_vl", "lfm2-vl"];
const AUDIO_MODEL = "LFM2AudioModel";

export interface TextCheckpointLayout {
  readonly config: Lfm2Config;
  /** Tensor-name prefix of the decoder (`model.` for text checkpoints, `model.language_model.` for VL, `lfm.` for LFM2-Audio). */
  readonly prefix: string;
}

/** Reads config.json of a text LFM2 folder, or the text side of an LFM2-VL or LFM2-Audio folder. */
export function readTextConfig(dir: string): TextCheckpointLayout {
  const path = join(dir, "config.json");
  if (!existsSync(path)) throw new LfmkitError("config.json not found", dir);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new LfmkitError(`not valid JSON (${(error as Error).message})`, path);
  }
  const modelType = String(json.model_type ?? "(missing)");
  if (VISION_LANGUAGE.includes(modelType)) {
    const text = (json.text_config ?? {}) as Record<string, unknown>;
    return { config: parseTextConfig({ model_type: "lfm2", ...text }, `${path}: text_config`), prefix: "model.language_model." };
  }
  if (Array.isArray(json.architectures) && json.architectures.includes(AUDIO_MODEL)) {
    const backbone = (json.lfm ?? {}) as Record<string, unknown>;
    return { config: parseTextConfig({ model_type: "lfm2", ...backbone }, `${path}: lfm`), prefix: "lfm." };
  }
  return { config: parseTextConfig(json, path), prefix: "model." };
}

export function parseTextConfig(json: Record<string, unknown>, where: string): Lfm2Config {
  const modelType = String(json.model_type ?? "(missing)");
  if (!SUPPORTED.includes(modelType)) {
    throw new LfmkitError(`unknown model_type "${modelType}" (lfmkit's text decoder runs ${SUPPORTED.join(", ")})`, where);
  }
  const parsed = rawSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LfmkitError(`${issue.path.join(".") || "config"}: ${issue.message}`, where);
  }
  const raw = parsed.data;
  const fail = (message: string): never => {
    throw new LfmkitError(message, where);
  };
  const hiddenSize = raw.hidden_size ?? raw.block_dim ?? fail("hidden_size is missing");
  const heads = raw.num_attention_heads ?? raw.num_heads ?? fail("num_attention_heads is missing");
  const layerTypes = resolveLayerTypes(raw.layer_types, raw.full_attn_idxs, raw.num_hidden_layers);
  if (layerTypes.length !== raw.num_hidden_layers) fail(`layer_types has ${layerTypes.length} entries for ${raw.num_hidden_layers} layers`);
  const rawFfn = raw.block_ff_dim ?? raw.intermediate_size ?? fail("intermediate_size is missing");
  const isMoe = modelType === "lfm2_moe";
  const eos = raw.eos_token_id;
  return {
    modelType: modelType as Lfm2Config["modelType"],
    vocabSize: raw.vocab_size,
    hiddenSize,
    layerTypes,
    heads,
    kvHeads: raw.num_key_value_heads,
    headDim: raw.head_dim ?? hiddenSize / heads,
    normEps: raw.norm_eps,
    ropeTheta: raw.rope_parameters?.rope_theta ?? raw.rope_theta ?? raw.theta ?? 1e6,
    maxPositions: raw.max_position_embeddings,
    convKernel: raw.conv_L_cache,
    convBias: raw.conv_bias,
    tieEmbeddings: raw.tie_word_embeddings ?? raw.tie_embedding ?? true,
    ffnWidth: isMoe ? rawFfn : effectiveFfnWidth(rawFfn, raw.block_auto_adjust_ff_dim, raw.block_ffn_dim_multiplier, raw.block_multiple_of),
    moe: isMoe
      ? {
          denseLayers: raw.num_dense_layers,
          experts: raw.num_experts ?? fail("num_experts is missing"),
          expertsPerToken: raw.num_experts_per_tok ?? fail("num_experts_per_tok is missing"),
          expertWidth: raw.moe_intermediate_size ?? fail("moe_intermediate_size is missing"),
          useExpertBias: raw.use_expert_bias,
          normTopkProb: raw.norm_topk_prob,
          routedScalingFactor: raw.routed_scaling_factor,
        }
      : undefined,
    eosTokenIds: eos === null || eos === undefined ? [] : Array.isArray(eos) ? eos : [eos],
    bosTokenId: raw.bos_token_id ?? undefined,
  };
}

function resolveLayerTypes(layerTypes: LayerType[] | null | undefined, attentionIndices: number[] | null | undefined, layers: number): LayerType[] {
  if (layerTypes) return layerTypes;
  if (attentionIndices) return Array.from({ length: layers }, (_, i) => (attentionIndices.includes(i) ? "full_attention" : "conv"));
  return Array.from({ length: layers }, () => "full_attention");
}

/** LLaMA-style 2/3 rule of dense LFM2 (the rounding applies only with a multiplier, as in the reference). */
export function effectiveFfnWidth(raw: number, autoAdjust: boolean, multiplier: number | null, multipleOf: number): number {
  if (!autoAdjust) return raw;
  let width = Math.trunc((2 * raw) / 3);
  if (multiplier !== null) {
    width = Math.trunc(multiplier * width);
    width = multipleOf * Math.ceil(width / multipleOf);
  }
  return width;
}
