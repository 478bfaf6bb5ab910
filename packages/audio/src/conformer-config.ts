/**
 * FastConformer encoder settings (architecture notes §4.3) from either published layout:
 * transformers' `ParakeetEncoderConfig` (a Parakeet `config.json`) or NeMo's `ConformerEncoder`
 * arguments (the `encoder` section of LFM2-Audio's `config.json`). Absent keys take the defaults of
 * those classes; settings lfmkit does not implement are refused by name.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { z } from "zod";

/** Whose weight names the checkpoint uses: transformers' Parakeet, or NeMo's (liquid-audio). */
export type ConformerLayout = "parakeet" | "nemo";

export interface SubsamplingConfig {
  /** Strided conv stages: log2 of the subsampling factor. */
  readonly stages: number;
  readonly channels: number;
  /** Square kernel of every strided conv, padded by (kernel − 1) / 2 on each side. */
  readonly kernel: number;
  readonly stride: number;
}

export interface ConformerConfig {
  readonly layout: ConformerLayout;
  readonly melBins: number;
  readonly hiddenSize: number;
  readonly layers: number;
  readonly heads: number;
  readonly feedForwardSize: number;
  /** Of the feed-forwards and of the conv module. */
  readonly activation: string;
  /** Depthwise kernel of the conv module (odd, padded to keep the length). */
  readonly convKernel: number;
  readonly subsampling: SubsamplingConfig;
  /** Multiplies the subsampled features before the layers: √hidden with `scale_input` / `xscaling`, else 1. */
  readonly inputScale: number;
}

const positiveInt = z.number().int().positive();
const oddInt = positiveInt.refine((n) => n % 2 === 1, "must be odd");
const powerOfTwo = positiveInt.refine((n) => n > 1 && (n & (n - 1)) === 0, "must be a power of two above 1");

const parakeetSchema = z.object({
  hidden_size: positiveInt.default(1024),
  num_hidden_layers: positiveInt.default(24),
  num_attention_heads: positiveInt.default(8),
  intermediate_size: positiveInt.default(4096),
  hidden_act: z.string().default("silu"),
  conv_kernel_size: oddInt.default(9),
  subsampling_factor: powerOfTwo.default(8),
  subsampling_conv_channels: positiveInt.default(256),
  subsampling_conv_kernel_size: oddInt.default(3),
  subsampling_conv_stride: positiveInt.default(2),
  num_mel_bins: positiveInt.default(80),
  scale_input: z.boolean().default(true),
});

const unlimitedContext = z
  .tuple([z.number(), z.number()])
  .refine(([left, right]) => left === -1 && right === -1, "only full context [-1, -1] is supported (no limited or streaming attention)");

const nemoSchema = z.object({
  feat_in: positiveInt,
  n_layers: positiveInt,
  d_model: positiveInt,
  feat_out: z.number().int().default(-1),
  subsampling: z.literal("dw_striding", { error: 'only "dw_striding" subsampling is supported' }).default("dw_striding"),
  subsampling_factor: powerOfTwo.default(4),
  subsampling_conv_channels: z.number().int().default(-1),
  causal_downsampling: z.literal(false, { error: "causal downsampling is not supported" }).default(false),
  reduction_factor: z.literal(1, { error: "reduction subsampling is not supported (reduction_factor must be 1)" }).default(1),
  ff_expansion_factor: positiveInt.default(4),
  self_attention_model: z.literal("rel_pos", { error: 'only "rel_pos" self-attention is supported' }).default("rel_pos"),
  n_heads: positiveInt.default(4),
  // NeMo takes the first of several context sizes (one per training regime) by default.
  att_context_size: z.union([unlimitedContext, z.array(unlimitedContext).min(1)]).nullable().default(null),
  xscaling: z.boolean().default(true),
  conv_kernel_size: oddInt.default(31),
  conv_norm_type: z.literal("batch_norm", { error: 'only "batch_norm" conv normalization is supported' }).default("batch_norm"),
  conv_context_size: z.null({ error: "only the symmetric conv context (null) is supported" }).optional(),
});

/** Settings from a transformers `ParakeetEncoderConfig` (config.json with model_type parakeet_encoder). */
export function parakeetConformerConfig(json: unknown, where: string): ConformerConfig {
  const raw = parseWith(parakeetSchema, json, where);
  return checked(
    {
      layout: "parakeet",
      melBins: raw.num_mel_bins,
      hiddenSize: raw.hidden_size,
      layers: raw.num_hidden_layers,
      heads: raw.num_attention_heads,
      feedForwardSize: raw.intermediate_size,
      activation: raw.hidden_act,
      convKernel: raw.conv_kernel_size,
      subsampling: {
        stages: Math.log2(raw.subsampling_factor),
        channels: raw.subsampling_conv_channels,
        kernel: raw.subsampling_conv_kernel_size,
        stride: raw.subsampling_conv_stride,
      },
      inputScale: raw.scale_input ? Math.sqrt(raw.hidden_size) : 1,
    },
    where,
  );
}

/** Settings from NeMo `ConformerEncoder` arguments (LFM2-Audio config.json → `encoder`). */
export function nemoConformerConfig(json: unknown, where: string): ConformerConfig {
  const raw = parseWith(nemoSchema, json, where);
  if (raw.feat_out > 0 && raw.feat_out !== raw.d_model) throw new LfmkitError(`feat_out ${raw.feat_out}: an output projection is not supported`, where);
  return checked(
    {
      layout: "nemo",
      melBins: raw.feat_in,
      hiddenSize: raw.d_model,
      layers: raw.n_layers,
      heads: raw.n_heads,
      feedForwardSize: raw.d_model * raw.ff_expansion_factor,
      activation: "silu",
      convKernel: raw.conv_kernel_size,
      subsampling: {
        stages: Math.log2(raw.subsampling_factor),
        channels: raw.subsampling_conv_channels === -1 ? raw.d_model : raw.subsampling_conv_channels,
        kernel: 3,
        stride: 2,
      },
      inputScale: raw.xscaling ? Math.sqrt(raw.d_model) : 1,
    },
    where,
  );
}

/**
 * The encoder settings of a model folder's config.json: its `encoder` section when it has one
 * (LFM2-Audio), else the whole file as a Parakeet encoder config.
 */
export function readConformerConfig(dir: string): ConformerConfig {
  const path = join(dir, "config.json");
  if (!existsSync(path)) throw new LfmkitError("config.json not found", dir);
  let json: { encoder?: unknown; model_type?: unknown };
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new LfmkitError(`not valid JSON (${(error as Error).message.split("\n")[0]})`, path);
  }
  if (json.encoder !== undefined) return nemoConformerConfig(json.encoder, `${path}: encoder`);
  if (json.model_type === "parakeet_encoder") return parakeetConformerConfig(json, path);
  throw new LfmkitError('not a conformer config: no "encoder" section (LFM2-Audio) and model_type is not "parakeet_encoder"', path);
}

function checked(config: ConformerConfig, where: string): ConformerConfig {
  if (config.hiddenSize % config.heads !== 0) throw new LfmkitError(`hidden size ${config.hiddenSize} is not divisible by ${config.heads} heads`, where);
  return config;
}

function parseWith<T extends z.ZodType>(schema: T, json: unknown, where: string): z.output<T> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LfmkitError(`${issue.path.join(".") || "config"}: ${issue.message}`, where);
  }
  return parsed.data;
}
