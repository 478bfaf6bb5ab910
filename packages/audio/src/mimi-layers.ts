/**
 * Mimi's convolutional layers as data (architecture notes §4.6, the SEANet tables): what each layer
 * is, the transformers name of its weights, and the state it carries from one streamed chunk to the
 * next. The graph builder walks these lists, and the runtime derives from the same lists the state it
 * feeds, so the two always agree, even when a cached graph is loaded without building.
 */
import type { Dim } from "@lfmkit/core";
import { ops } from "@lfmkit/core";
import type { MimiConfig } from "./mimi-config.js";

export interface ConvLayer {
  readonly kind: "conv";
  /** Weight name prefix: `<prefix>.weight`, `<prefix>.bias`. */
  readonly weights: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly dilation: number;
  readonly bias: boolean;
  readonly padMode: "constant" | "replicate";
}

export interface ConvTransposeLayer {
  readonly kind: "convTranspose";
  readonly weights: string;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly kernel: number;
  readonly stride: number;
  readonly groups: number;
  readonly bias: boolean;
}

/** x + shortcut(x) after ELU → conv (narrowing) → ELU → conv (k 1, widening). */
export interface ResidualBlock {
  readonly kind: "residual";
  readonly narrow: ConvLayer;
  readonly widen: ConvLayer;
  /** A k-1 convolution on the skip path, or undefined for the identity. */
  readonly shortcut: ConvLayer | undefined;
}

export type SeanetLayer = ConvLayer | ConvTransposeLayer | ResidualBlock | { readonly kind: "elu" };

/** A value a graph reads at every chunk and returns for the next one. */
export interface StateSlot {
  /** The graph input; the output is `nextState(name)`. */
  readonly name: string;
  /** Its shape before the first chunk (zeros, or no cached positions). */
  readonly initial: readonly number[];
  readonly dims: readonly Dim[];
}

export const nextState = (name: string) => `${name}.next`;

/** The layers of one direction, in the order they run. */
export interface MimiPart {
  readonly seanet: readonly SeanetLayer[];
  /** `downsample` after the tokenizer's transformer, `upsample` before the detokenizer's. */
  readonly resample: ConvLayer | ConvTransposeLayer | undefined;
  /** Weight prefix of the transformer: `encoder_transformer` or `decoder_transformer`. */
  readonly transformer: string;
}

/** Waveform → latent: conv, then per stage (ratios reversed) residual blocks, ELU, strided conv; ELU, conv. */
export function tokenizerPart(config: MimiConfig): MimiPart {
  const s = config.seanet;
  const layers: SeanetLayer[] = [];
  const conv = (inChannels: number, outChannels: number, kernel: number, stride = 1) => seanetConv(config, `encoder.layers.${layers.length}.conv`, inChannels, outChannels, kernel, stride);
  layers.push(conv(s.audioChannels, s.filters, s.kernelSize));
  let channels = s.filters;
  for (const ratio of [...s.ratios].reverse()) {
    for (let j = 0; j < s.residualLayers; j++) layers.push(residualBlock(config, `encoder.layers.${layers.length}`, channels, s.dilationGrowthRate ** j));
    layers.push({ kind: "elu" });
    layers.push(conv(channels, channels * 2, ratio * 2, ratio));
    channels *= 2;
  }
  layers.push({ kind: "elu" });
  layers.push(conv(channels, config.hiddenSize, s.lastKernelSize));
  const r = config.resample;
  const downsample: ConvLayer | undefined = r && {
    kind: "conv",
    weights: "downsample.conv",
    inChannels: config.hiddenSize,
    outChannels: config.hiddenSize,
    kernel: r.kernel,
    stride: r.stride,
    dilation: 1,
    bias: false,
    padMode: "replicate",
  };
  return { seanet: layers, resample: downsample, transformer: "encoder_transformer" };
}

/** Latent → waveform: conv, then per stage ELU, transposed conv, residual blocks; ELU, conv. */
export function detokenizerPart(config: MimiConfig): MimiPart {
  const s = config.seanet;
  const layers: SeanetLayer[] = [];
  const name = () => `decoder.layers.${layers.length}`;
  let channels = s.filters * 2 ** s.ratios.length;
  layers.push(seanetConv(config, `${name()}.conv`, config.hiddenSize, channels, s.kernelSize));
  for (const ratio of s.ratios) {
    layers.push({ kind: "elu" });
    layers.push({ kind: "convTranspose", weights: `${name()}.conv`, inChannels: channels, outChannels: channels / 2, kernel: ratio * 2, stride: ratio, groups: 1, bias: true });
    channels /= 2;
    for (let j = 0; j < s.residualLayers; j++) layers.push(residualBlock(config, name(), channels, s.dilationGrowthRate ** j));
  }
  layers.push({ kind: "elu" });
  layers.push(seanetConv(config, `${name()}.conv`, channels, s.audioChannels, s.lastKernelSize));
  const r = config.resample;
  const upsample: ConvTransposeLayer | undefined = r && {
    kind: "convTranspose",
    weights: "upsample.conv",
    inChannels: config.hiddenSize,
    outChannels: config.hiddenSize,
    kernel: r.kernel,
    stride: r.stride,
    groups: r.upsampleGroups,
    bias: false,
  };
  return { seanet: layers, resample: upsample, transformer: "decoder_transformer" };
}

function seanetConv(config: MimiConfig, weights: string, inChannels: number, outChannels: number, kernel: number, stride = 1, dilation = 1): ConvLayer {
  return { kind: "conv", weights, inChannels, outChannels, kernel, stride, dilation, bias: true, padMode: config.seanet.padMode };
}

function residualBlock(config: MimiConfig, prefix: string, channels: number, dilation: number): ResidualBlock {
  const hidden = Math.floor(channels / config.seanet.compress);
  return {
    kind: "residual",
    narrow: seanetConv(config, `${prefix}.block.1.conv`, channels, hidden, config.seanet.residualKernelSize, 1, dilation),
    widen: seanetConv(config, `${prefix}.block.3.conv`, hidden, channels, 1),
    shortcut: config.seanet.convShortcut ? seanetConv(config, `${prefix}.shortcut.conv`, channels, channels, 1) : undefined,
  };
}

/** The inputs a causal convolution's first outputs read from before the chunk; none for k = stride. */
export function contextSlot(layer: ConvLayer): StateSlot | undefined {
  const length = ops.causalContextLength(layer.kernel, layer.stride, layer.dilation);
  const shape = [1, layer.inChannels, length];
  return length > 0 ? { name: `${layer.weights}.context`, initial: shape, dims: shape } : undefined;
}

/** The outputs a transposed convolution leaves unfinished for the next chunk; none for k = stride. */
export function overlapSlot(layer: ConvTransposeLayer): StateSlot | undefined {
  const shape = [1, layer.outChannels, layer.kernel - layer.stride];
  return layer.kernel > layer.stride ? { name: `${layer.weights}.overlap`, initial: shape, dims: shape } : undefined;
}

/** The keys and values of one attention layer's window, [KV, cached, headDim]; nothing cached at first. */
export function windowSlots(transformer: string, layer: number, config: MimiConfig): { keys: StateSlot; values: StateSlot } {
  const { kvHeads, headDim } = config.transformer;
  const slot = (kind: string): StateSlot => ({ name: `${transformer}.layers.${layer}.self_attn.${kind}`, initial: [kvHeads, 0, headDim], dims: [kvHeads, "cached", headDim] });
  return { keys: slot("keys"), values: slot("values") };
}

/** Every state slot of a part, in no particular order. */
export function stateSlots(part: MimiPart, config: MimiConfig): StateSlot[] {
  const ofLayer = (layer: SeanetLayer | undefined): (StateSlot | undefined)[] => {
    switch (layer?.kind) {
      case "conv":
        return [contextSlot(layer)];
      case "convTranspose":
        return [overlapSlot(layer)];
      case "residual":
        return [layer.narrow, layer.widen, layer.shortcut].flatMap(ofLayer);
      default:
        return [];
    }
  };
  const windows = Array.from({ length: config.transformer.layers }, (_, i) => Object.values(windowSlots(part.transformer, i, config))).flat();
  return [...part.seanet.flatMap(ofLayer), ...ofLayer(part.resample), ...windows].filter((slot) => slot !== undefined);
}
