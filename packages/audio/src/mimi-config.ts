/**
 * Mimi codec settings (architecture notes §4.6) from a transformers `MimiModel` config.json. Absent
 * keys take transformers' MimiConfig defaults, which are the published kyutai/mimi settings that
 * LFM2-Audio ships in moshi format (a file without a config of its own).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { z } from "zod";

export interface SeanetConfig {
  readonly audioChannels: number;
  /** Channels after the first convolution; doubled by every encoder stage, halved by every decoder stage. */
  readonly filters: number;
  /** Decoder stage strides, in decoder order (the encoder runs them reversed). */
  readonly ratios: readonly number[];
  readonly kernelSize: number;
  readonly lastKernelSize: number;
  readonly residualKernelSize: number;
  readonly residualLayers: number;
  readonly dilationGrowthRate: number;
  /** Residual blocks narrow their channels by this factor. */
  readonly compress: number;
  readonly convShortcut: boolean;
  /** How causal convolutions pad their start: zeros, or copies of the first input. */
  readonly padMode: "constant" | "replicate";
}

export interface MimiTransformerConfig {
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly intermediateSize: number;
  readonly hiddenAct: string;
  readonly normEps: number;
  /** A position attends to itself and the slidingWindow − 1 positions before it. */
  readonly slidingWindow: number;
  readonly ropeTheta: number;
}

export interface QuantizerConfig {
  readonly codebookSize: number;
  readonly codebookDim: number;
  /** Codebooks in the checkpoint: the semantic ones first, then the acoustic ones. */
  readonly quantizers: number;
  readonly semanticQuantizers: number;
}

export interface MimiConfig {
  readonly sampleRate: number;
  /** Width of the latent between the SEANet and the quantizer. */
  readonly hiddenSize: number;
  readonly seanet: SeanetConfig;
  readonly transformer: MimiTransformerConfig;
  readonly quantizer: QuantizerConfig;
  /**
   * The learned resampling between the SEANet rate and the frame rate (kernel and stride), or
   * undefined when both rates are equal.
   */
  readonly resample: { readonly kernel: number; readonly stride: number; readonly upsampleGroups: number } | undefined;
  /** Audio samples per code frame (1920 for 24 kHz at 12.5 frames/s). */
  readonly samplesPerFrame: number;
  /** Transformer positions per code frame (the resampling stride). */
  readonly positionsPerFrame: number;
}

const positiveInt = z.number().int().positive();

const rawSchema = z
  .object({
    sampling_rate: positiveInt.default(24000),
    audio_channels: z.literal(1, { error: "lfmkit runs mono Mimi codecs only (audio_channels 1)" }).default(1),
    hidden_size: positiveInt.default(512),
    num_filters: positiveInt.default(64),
    num_residual_layers: positiveInt.default(1),
    upsampling_ratios: z.array(positiveInt).nonempty().default([8, 6, 5, 4]),
    kernel_size: positiveInt.default(7),
    last_kernel_size: positiveInt.default(3),
    residual_kernel_size: positiveInt.default(3),
    dilation_growth_rate: positiveInt.default(2),
    use_causal_conv: z.literal(true, { error: "lfmkit runs causal Mimi codecs only (use_causal_conv true)" }).default(true),
    pad_mode: z.enum(["constant", "replicate"], { error: "pad_mode must be constant or replicate" }).default("constant"),
    compress: positiveInt.default(2),
    trim_right_ratio: z.literal(1, { error: "lfmkit runs Mimi codecs with trim_right_ratio 1 only" }).default(1),
    use_conv_shortcut: z.boolean().default(false),
    codebook_size: positiveInt.default(2048),
    codebook_dim: positiveInt.default(256),
    num_quantizers: positiveInt.default(32),
    num_semantic_quantizers: positiveInt.default(1),
    upsample_groups: positiveInt.default(512),
    num_hidden_layers: positiveInt.default(8),
    num_attention_heads: positiveInt.default(8),
    num_key_value_heads: positiveInt.optional(),
    head_dim: positiveInt.nullish(),
    intermediate_size: positiveInt.default(2048),
    hidden_act: z.string().default("gelu"),
    norm_eps: z.number().positive().default(1e-5),
    sliding_window: positiveInt.default(250),
    rope_theta: z.number().positive().optional(),
    rope_parameters: z.object({ rope_theta: z.number().positive().optional() }).passthrough().nullish(),
    frame_rate: z.number().positive().nullish(),
    _frame_rate: z.number().positive().nullish(),
  })
  .passthrough()
  .refine((c) => c.num_semantic_quantizers < c.num_quantizers, { message: "num_semantic_quantizers must be below num_quantizers" })
  .refine((c) => c.num_attention_heads % (c.num_key_value_heads ?? c.num_attention_heads) === 0, {
    message: "num_attention_heads must be a multiple of num_key_value_heads",
  });

/** Settings from a parsed config.json object ({} gives the kyutai/mimi defaults). */
export function parseMimiConfig(raw: unknown, where = "config.json"): MimiConfig {
  const parsed = rawSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LfmkitError(`${issue.path.join(".") || "config"}: ${issue.message}`, where);
  }
  const c = parsed.data;
  const hop = c.upsampling_ratios.reduce((a, b) => a * b, 1);
  // transformers: the SEANet rate is ceil(rate / hop); a different frame rate adds a stride-2 resampling.
  const seanetRate = Math.ceil(c.sampling_rate / hop);
  const frameRate = c._frame_rate ?? c.frame_rate ?? c.sampling_rate / (hop * 2);
  const resample =
    frameRate === seanetRate ? undefined : { kernel: 2 * Math.trunc(seanetRate / frameRate), stride: 2, upsampleGroups: c.upsample_groups };
  const positionsPerFrame = resample?.stride ?? 1;
  return {
    sampleRate: c.sampling_rate,
    hiddenSize: c.hidden_size,
    seanet: {
      audioChannels: c.audio_channels,
      filters: c.num_filters,
      ratios: c.upsampling_ratios,
      kernelSize: c.kernel_size,
      lastKernelSize: c.last_kernel_size,
      residualKernelSize: c.residual_kernel_size,
      residualLayers: c.num_residual_layers,
      dilationGrowthRate: c.dilation_growth_rate,
      compress: c.compress,
      convShortcut: c.use_conv_shortcut,
      padMode: c.pad_mode,
    },
    transformer: {
      layers: c.num_hidden_layers,
      heads: c.num_attention_heads,
      kvHeads: c.num_key_value_heads ?? c.num_attention_heads,
      headDim: c.head_dim ?? c.hidden_size / c.num_attention_heads,
      intermediateSize: c.intermediate_size,
      hiddenAct: c.hidden_act,
      normEps: c.norm_eps,
      slidingWindow: c.sliding_window,
      ropeTheta: c.rope_parameters?.rope_theta ?? c.rope_theta ?? 10000,
    },
    quantizer: {
      codebookSize: c.codebook_size,
      codebookDim: c.codebook_dim,
      quantizers: c.num_quantizers,
      semanticQuantizers: c.num_semantic_quantizers,
    },
    resample,
    samplesPerFrame: hop * positionsPerFrame,
    positionsPerFrame,
  };
}

/** The config.json of a Mimi folder, or the defaults when the folder has none (a moshi-format checkpoint). */
export function readMimiConfig(dir: string): MimiConfig {
  const path = join(dir, "config.json");
  if (!existsSync(path)) return parseMimiConfig({}, dir);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new LfmkitError("is not valid JSON", path);
  }
  const modelType = (raw as { model_type?: unknown }).model_type;
  if (modelType !== undefined && modelType !== "mimi") throw new LfmkitError(`model_type is "${String(modelType)}", not a Mimi codec ("mimi")`, path);
  return parseMimiConfig(raw, path);
}
