/**
 * Mimi neural audio codec (architecture notes §4.6) as two ONNX graphs that run a stream chunk by chunk:
 *
 *   tokenizer, waveform → codes:
 *     x = SEANet encoder(audio)        [1, hidden, positions]   (the SEANet rate, 25 Hz)
 *     x = encoder transformer(x)
 *     x = downsample(x)                [1, hidden, frames]      (the frame rate, 12.5 Hz)
 *     codes = split RVQ encode(x)      [codebooks, frames]
 *
 *   detokenizer, codes → waveform:
 *     x = split RVQ decode(codes)      [1, hidden, frames]
 *     x = upsample(x)                  [1, hidden, positions]
 *     x = decoder transformer(x)
 *     audio = SEANet decoder(x)        [frames · samplesPerFrame]
 *
 * Everything in it is causal, and carries its past across the graph boundary explicitly (the state
 * slots of mimi-layers.ts): each convolution its left context, each transposed convolution its
 * unfinished tail, each attention layer its window of keys and values. A chunk after fresh state is the
 * one-shot computation, so the same graph decodes a whole clip or streams it.
 */
import { LfmkitError, ops, type GraphBuilder, type LinearSpec, type Weights, type WeightSource } from "@lfmkit/core";
import type { MimiConfig } from "./mimi-config.js";
import {
  contextSlot,
  detokenizerPart,
  nextState,
  overlapSlot,
  tokenizerPart,
  windowSlots,
  type ConvLayer,
  type ConvTransposeLayer,
  type SeanetLayer,
  type StateSlot,
} from "./mimi-layers.js";

/** Names of the graphs' inputs and outputs besides the state slots, shared by the builders and the runtime. */
export const io = {
  audio: "audio",
  codes: "codes",
  /** int64 [1]: transformer positions streamed before this chunk. */
  offset: "offset",
};

export interface MimiBuild {
  readonly config: MimiConfig;
  /** Codebooks coded or decoded: the semantic ones, then acoustic ones up to this count. */
  readonly codebooks: number;
  /** moshi's q/k rows pair adjacent features for RoPE; transformers' rows are permuted for rotate-half. */
  readonly ropeInterleaved: boolean;
}

/** cluster_usage is clamped to this before dividing, as the reference does. */
const USAGE_EPSILON = 1e-5;

/** The stream as one chunk's graph sees it: where the chunk starts, and the state it reads and returns. */
class Stream {
  readonly offset: string;
  private first: string | undefined;

  constructor(private readonly g: GraphBuilder) {
    this.offset = g.input(io.offset, "int64", [1]);
  }

  read(slot: StateSlot): string {
    return this.g.input(slot.name, "float32", [...slot.dims]);
  }

  write(slot: StateSlot, value: string): void {
    this.g.output(value, nextState(slot.name), "float32", slot.dims.map((d) => (typeof d === "string" ? `${d}_next` : d)));
  }

  /** bool scalar: whether this chunk starts the stream. */
  isFirstChunk(): string {
    this.first ??= this.g.op1("Equal", [this.g.op1("Squeeze", [this.offset]), this.g.scalar(0)]);
    return this.first;
  }
}

function checkedShape(source: WeightSource, expected: readonly number[], where: string): WeightSource {
  if (source.shape.join() !== expected.join()) throw new LfmkitError(`${source.name} has shape [${source.shape}], the config implies [${expected}]`, where);
  return source;
}

/** A causal convolution over x [1, C, T], its start padded by the previous chunk's inputs. */
function causalConv(g: GraphBuilder, x: string, layer: ConvLayer, w: Weights, stream: Stream): string {
  const weight = checkedShape(w.required(`${layer.weights}.weight`), [layer.outChannels, layer.inChannels, layer.kernel], w.where);
  const slot = contextSlot(layer);
  let context = slot && stream.read(slot);
  if (context && layer.padMode === "replicate") {
    // The stream's start is padded with copies of its first input instead of zeros.
    const firstInput = g.op1("Slice", [x, g.constant([0]), g.constant([1]), g.constant([2])]);
    context = g.op1("Where", [stream.isFirstChunk(), g.op1("Expand", [firstInput, g.op1("Shape", [context])]), context]);
  }
  const bias = layer.bias ? w.required(`${layer.weights}.bias`) : undefined;
  const result = ops.streamingConv(g, x, { weight, bias, strides: [layer.stride], dilations: [layer.dilation], context });
  if (slot) stream.write(slot, result.context!);
  return result.output;
}

/** A transposed convolution over x [1, C, T] whose last k − stride outputs wait for the next chunk. */
function causalConvTranspose(g: GraphBuilder, x: string, layer: ConvTransposeLayer, w: Weights, stream: Stream): string {
  const weight = checkedShape(w.required(`${layer.weights}.weight`), [layer.inChannels, layer.outChannels / layer.groups, layer.kernel], w.where);
  const slot = overlapSlot(layer);
  const bias = layer.bias ? w.required(`${layer.weights}.bias`) : undefined;
  const result = ops.streamingConvTranspose(g, x, { weight, bias, stride: layer.stride, groups: layer.groups, overlap: slot && stream.read(slot) });
  if (slot) stream.write(slot, result.overlap!);
  return result.output;
}

function seanetLayer(g: GraphBuilder, x: string, layer: SeanetLayer, w: Weights, stream: Stream): string {
  switch (layer.kind) {
    case "elu":
      return ops.elu(g, x);
    case "conv":
      return causalConv(g, x, layer, w, stream);
    case "convTranspose":
      return causalConvTranspose(g, x, layer, w, stream);
    case "residual": {
      const narrowed = causalConv(g, ops.elu(g, x), layer.narrow, w, stream);
      const widened = causalConv(g, ops.elu(g, narrowed), layer.widen, w, stream);
      return g.op1("Add", [layer.shortcut ? causalConv(g, x, layer.shortcut, w, stream) : x, widened]);
    }
  }
}

/**
 * §4.6 transformer on x [1, positions, hidden]: per layer x += scale₁ ⊙ Attn(LN₁ x), then
 * x += scale₂ ⊙ MLP(LN₂ x); attention is causal within the sliding window, with RoPE.
 */
function transformer(g: GraphBuilder, x: string, prefix: string, w: Weights, build: MimiBuild, stream: Stream): string {
  const { config } = build;
  const t = config.transformer;
  const { heads, kvHeads, headDim, slidingWindow: window } = t;
  const { rotary, positionIds } = ops.streamRotary(g, x, stream.offset, t.ropeTheta, headDim, build.ropeInterleaved);
  const rotate = (y: string) => ops.rope(g, y, positionIds, rotary);
  let mask: string | undefined;
  for (let layer = 0; layer < t.layers; layer++) {
    const lw = w.scope(`${prefix}.layers.${layer}`);
    const linear = (name: string, outFeatures: number, inFeatures: number): LinearSpec => {
      const spec = lw.linear(name);
      checkedShape(spec.weight, [outFeatures, inFeatures], w.where);
      return spec;
    };
    const norm = (name: string, y: string) => ops.layerNorm(g, y, lw.required(`${name}.weight`), lw.required(`${name}.bias`), t.normEps);
    const scaled = (name: string, y: string) => g.op1("Mul", [y, ops.floatWeight(g, lw.required(`${name}.scale`))]);

    const slots = windowSlots(prefix, layer, config);
    const cache = { keys: stream.read(slots.keys), values: stream.read(slots.values) };
    mask ??= ops.slidingWindowMask(g, x, window, cache.keys);
    const n = norm("input_layernorm", x);
    const project = (name: string, headCount: number) => ops.linear(g, n, linear(`self_attn.${name}`, headCount * headDim, config.hiddenSize));
    const [q, k, v] = [rotate(project("q_proj", heads)), rotate(project("k_proj", kvHeads)), project("v_proj", kvHeads)];
    const attention = ops.slidingWindowAttention(g, q, k, v, { heads, kvHeads, headDim, window, mask, cache });
    stream.write(slots.keys, attention.keys);
    stream.write(slots.values, attention.values);
    x = g.op1("Add", [x, scaled("self_attn_layer_scale", ops.linear(g, attention.output, linear("self_attn.o_proj", config.hiddenSize, heads * headDim)))]);

    const m = norm("post_attention_layernorm", x);
    const mlp = ops.mlp(g, m, linear("mlp.fc1", t.intermediateSize, config.hiddenSize), linear("mlp.fc2", config.hiddenSize, t.intermediateSize), t.hiddenAct);
    x = g.op1("Add", [x, scaled("mlp_layer_scale", mlp)]);
  }
  return x;
}

/** One residual vector quantizer: its codebooks and the pointwise projections into and out of their space. */
interface Quantizer {
  readonly codebooks: readonly WeightSource[];
  readonly inputProjection: LinearSpec | undefined;
  readonly outputProjection: LinearSpec | undefined;
}

/**
 * §4.6 split RVQ: the first `semanticQuantizers` codebooks belong to the semantic quantizer, the rest
 * to the acoustic one; both read the same latent. Returns the quantizers with codebooks in use.
 */
function splitQuantizer(w: Weights, build: MimiBuild): Quantizer[] {
  const { codebookSize, codebookDim, semanticQuantizers } = build.config.quantizer;
  const quantizer = (prefix: string, levels: number): Quantizer => {
    const qw = w.scope(`quantizer.${prefix}`);
    const projection = (name: string) => {
      const conv = qw.optional(`${name}.weight`); // Conv1d with kernel 1: [out, in, 1]
      return conv && { weight: { ...conv, shape: conv.shape.slice(0, 2) }, format: "f32" as const };
    };
    const codebook = (level: number): WeightSource => {
      const sums = checkedShape(qw.required(`layers.${level}.codebook.embed_sum`), [codebookSize, codebookDim], w.where);
      const usage = qw.required(`layers.${level}.codebook.cluster_usage`);
      return {
        name: `${sums.name}/cluster_usage`,
        shape: sums.shape,
        read: () => {
          const [sum, used] = [sums.read(), usage.read()];
          return Float32Array.from(sum, (s, i) => s / Math.max(used[Math.floor(i / codebookDim)], Math.fround(USAGE_EPSILON)));
        },
      };
    };
    return { codebooks: Array.from({ length: levels }, (_, level) => codebook(level)), inputProjection: projection("input_proj"), outputProjection: projection("output_proj") };
  };
  const split = [
    quantizer("semantic_residual_vector_quantizer", semanticQuantizers),
    quantizer("acoustic_residual_vector_quantizer", build.codebooks - semanticQuantizers),
  ];
  return split.filter((q) => q.codebooks.length > 0);
}

/** Codes [codebooks, frames] of a latent [frames, hidden]: each quantizer codes its projection of it. */
function quantize(g: GraphBuilder, latent: string, quantizers: readonly Quantizer[]): string {
  const codes = quantizers.map((q) => ops.residualQuantize(g, q.inputProjection ? ops.linear(g, latent, q.inputProjection) : latent, q.codebooks));
  return codes.length === 1 ? codes[0] : g.op1("Concat", codes, { axis: 0 });
}

/** The latent [frames, hidden] of codes [codebooks, frames]: each quantizer's summed entries, projected out, added. */
function dequantize(g: GraphBuilder, codes: string, quantizers: readonly Quantizer[]): string {
  let first = 0;
  let latent = "";
  for (const q of quantizers) {
    const rows = g.op1("Slice", [codes, g.constant([first]), g.constant([first + q.codebooks.length]), g.constant([0])]);
    first += q.codebooks.length;
    const sum = ops.residualDequantize(g, rows, q.codebooks);
    const projected = q.outputProjection ? ops.linear(g, sum, q.outputProjection) : sum;
    latent = latent ? g.op1("Add", [latent, projected]) : projected;
  }
  return latent;
}

/** [1, A, B] ↔ [1, B, A]: the SEANet's channels-first layout and the transformer's positions-first one. */
const swapLastAxes = (g: GraphBuilder, x: string) => g.op1("Transpose", [x], { perm: [0, 2, 1] });

/** Waveform chunk [1, 1, frames · samplesPerFrame] → codes [codebooks, frames] (int64). */
export function buildTokenizer(g: GraphBuilder, w: Weights, build: MimiBuild): void {
  const { config } = build;
  const part = tokenizerPart(config);
  const stream = new Stream(g);
  let x = g.input(io.audio, "float32", [1, config.seanet.audioChannels, "samples"]);
  for (const layer of part.seanet) x = seanetLayer(g, x, layer, w, stream);
  x = swapLastAxes(g, transformer(g, swapLastAxes(g, x), part.transformer, w, build, stream));
  if (part.resample) x = seanetLayer(g, x, part.resample, w, stream);
  const latent = g.op1("Squeeze", [swapLastAxes(g, x), g.constant([0])]); // [frames, hidden]
  g.output(quantize(g, latent, splitQuantizer(w, build)), io.codes, "int64", [build.codebooks, "frames"]);
}

/** Codes [codebooks, frames] (int64) → waveform chunk [frames · samplesPerFrame]. */
export function buildDetokenizer(g: GraphBuilder, w: Weights, build: MimiBuild): void {
  const part = detokenizerPart(build.config);
  const stream = new Stream(g);
  const codes = g.input(io.codes, "int64", [build.codebooks, "frames"]);
  let x = swapLastAxes(g, g.op1("Unsqueeze", [dequantize(g, codes, splitQuantizer(w, build)), g.constant([0])])); // [1, hidden, frames]
  if (part.resample) x = seanetLayer(g, x, part.resample, w, stream);
  x = swapLastAxes(g, transformer(g, swapLastAxes(g, x), part.transformer, w, build, stream));
  for (const layer of part.seanet) x = seanetLayer(g, x, layer, w, stream);
  g.output(g.op1("Reshape", [x, g.constant([-1])]), io.audio, "float32", ["samples"]);
}
