/**
 * The vision tower (SigLIP2-NaFlex) and projector settings of an LFM2-VL config.json (architecture
 * notes §3.2). Absent keys take the defaults of transformers' Siglip2VisionConfig and Lfm2VlConfig.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { z } from "zod";

export interface VisionTowerConfig {
  readonly hiddenSize: number;
  readonly intermediateSize: number;
  readonly heads: number;
  readonly headDim: number;
  /** Encoder layers that run: all of them, or fewer when `vision_feature_layer` drops the last ones. */
  readonly layers: number;
  readonly patchSize: number;
  readonly channels: number;
  /** Side of the learned square position grid (√num_patches). */
  readonly positionGridSide: number;
  readonly layerNormEps: number;
  readonly hiddenAct: string;
}

export interface ProjectorConfig {
  readonly downsampleFactor: number;
  readonly hiddenSize: number;
  readonly hiddenAct: string;
  readonly bias: boolean;
  readonly useLayerNorm: boolean;
  /** The text model's hidden size: the width of one image token. */
  readonly outputSize: number;
}

export interface VisionConfig {
  readonly tower: VisionTowerConfig;
  readonly projector: ProjectorConfig;
}

const positiveInt = z.number().int().positive();

const towerSchema = z
  .object({
    model_type: z.enum(["siglip2_vision_model", "siglip2"], { error: "only SigLIP2 vision towers (siglip2_vision_model) are supported" }).optional(),
    hidden_size: positiveInt.default(768),
    intermediate_size: positiveInt.default(3072),
    num_attention_heads: positiveInt.default(12),
    num_hidden_layers: positiveInt.default(12),
    patch_size: positiveInt.default(16),
    num_channels: positiveInt.default(3),
    num_patches: positiveInt.default(256),
    layer_norm_eps: z.number().positive().default(1e-6),
    hidden_act: z.string().default("gelu_pytorch_tanh"),
  })
  .passthrough()
  .refine((t) => t.hidden_size % t.num_attention_heads === 0, { message: "hidden_size must be divisible by num_attention_heads" })
  .refine((t) => Number.isInteger(Math.sqrt(t.num_patches)), { message: "num_patches must be a square (the position grid is square)" });

const rawSchema = z
  .object({
    vision_config: towerSchema,
    text_config: z.object({ hidden_size: positiveInt.default(2560) }).passthrough().default({ hidden_size: 2560 }),
    downsample_factor: positiveInt.default(2),
    projector_hidden_size: positiveInt.default(2560),
    projector_hidden_act: z.string().default("gelu"),
    projector_bias: z.boolean().default(true),
    projector_use_layernorm: z.boolean().default(true),
    vision_feature_layer: z.number().int().default(-1),
  })
  .passthrough();

/**
 * `vision_feature_layer` as the original LFM2-VL code and llama.cpp read it: the tower keeps layers
 * 0 … vision_feature_layer (counted from the end when negative; −1 keeps them all), and the
 * post-layernorm still follows. (transformers 5 ignores the key; released checkpoints say −1.)
 */
function layersUsed(featureLayer: number, layers: number, where: string | undefined): number {
  const used = featureLayer < 0 ? layers + 1 + featureLayer : featureLayer + 1;
  if (used < 1 || used > layers) {
    throw new LfmkitError(`vision_feature_layer ${featureLayer} is outside the tower's ${layers} layers`, where);
  }
  return used;
}

/** Reads the settings from a parsed LFM2-VL config.json. */
export function parseVisionConfig(json: unknown, where?: string): VisionConfig {
  if (typeof json !== "object" || json === null || !("vision_config" in json)) {
    throw new LfmkitError("config has no vision_config (not an LFM2-VL checkpoint)", where);
  }
  const parsed = rawSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new LfmkitError(`invalid vision config (${key}${issue.message})`, where);
  }
  const c = parsed.data;
  const t = c.vision_config;
  return {
    tower: {
      hiddenSize: t.hidden_size,
      intermediateSize: t.intermediate_size,
      heads: t.num_attention_heads,
      headDim: t.hidden_size / t.num_attention_heads,
      layers: layersUsed(c.vision_feature_layer, t.num_hidden_layers, where),
      patchSize: t.patch_size,
      channels: t.num_channels,
      positionGridSide: Math.sqrt(t.num_patches),
      layerNormEps: t.layer_norm_eps,
      hiddenAct: t.hidden_act,
    },
    projector: {
      downsampleFactor: c.downsample_factor,
      hiddenSize: c.projector_hidden_size,
      hiddenAct: c.projector_hidden_act,
      bias: c.projector_bias,
      useLayerNorm: c.projector_use_layernorm,
      outputSize: c.text_config.hidden_size,
    },
  };
}

/** The settings from `dir`/config.json. */
export function readVisionConfig(dir: string): VisionConfig {
  const path = join(dir, "config.json");
  if (!existsSync(path)) throw new LfmkitError("config.json not found", dir);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new LfmkitError("config.json is not valid JSON", path);
  }
  return parseVisionConfig(json, path);
}
