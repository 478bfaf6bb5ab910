/**
 * FastConformer encoder (architecture notes §4.3), as NeMo's `ConformerEncoder` and transformers'
 * `ParakeetEncoder` compute it: log-mel features [B, T, mels] in, [B, T', hidden] out, T' ≈ T / 8.
 *
 *   x = subsampling(features)                 strided 2-D convs over (time, mel), then a linear
 *   x = x · inputScale                        (√hidden with xscaling / scale_input)
 *   p = sinusoids of relative positions T'−1 … −(T'−1)     (computed here, fed to the graph)
 *   for each layer:
 *     x = x + ½ · feedForward1(LN(x))
 *     x = x + selfAttention(LN(x), p)         relative-position multi-head attention
 *     x = x + convModule(LN(x))
 *     x = x + ½ · feedForward2(LN(x))
 *     x = LN_out(x)
 *
 * Padded frames are masked as both references mask them: zeroed after every subsampling conv, kept
 * out of attention as keys, zeroed before the conv module's depthwise kernel. Rows past the valid
 * length are padding in the output too.
 */
import { LfmkitError, ops, type GraphBuilder, type LinearSpec, type WeightSource, type Weights } from "@lfmkit/core";
import type { ConformerConfig, ConformerLayout, SubsamplingConfig } from "./conformer-config.js";

/** nn.LayerNorm's and nn.BatchNorm1d's default: neither config has a key for it. */
const NORM_EPS = 1e-5;

/**
 * Where the two layouts keep the encoder (`root`) and the names that differ between them: the
 * subsampling's (under the root), the attention's (under each layer's `self_attn`) and the conv
 * module's batch norm (under each layer's `conv`). Every other name is the same in both.
 */
export const CONFORMER_WEIGHTS = {
  parakeet: {
    root: "",
    subsamplingConvs: "subsampling.layers",
    subsamplingOut: "subsampling.linear",
    query: "q_proj",
    key: "k_proj",
    value: "v_proj",
    output: "o_proj",
    position: "relative_k_proj",
    contentBias: "bias_u",
    positionBias: "bias_v",
    batchNorm: "norm",
  },
  nemo: {
    root: "conformer",
    subsamplingConvs: "pre_encode.conv",
    subsamplingOut: "pre_encode.out",
    query: "linear_q",
    key: "linear_k",
    value: "linear_v",
    output: "linear_out",
    position: "linear_pos",
    contentBias: "pos_bias_u",
    positionBias: "pos_bias_v",
    batchNorm: "batch_norm",
  },
} as const satisfies Record<ConformerLayout, Record<string, string>>;

type WeightNames = (typeof CONFORMER_WEIGHTS)[ConformerLayout];

/** The encoder's graph inputs. */
export interface ConformerInputs {
  /** [B, T, mels] log-mel features. */
  readonly features: string;
  /** [B, T] float: 1 for real frames, 0 for padding (a prefix of each row is real). */
  readonly frameMask: string;
  /** [1, 2T'−1, hidden]: `relativePositionEmbeddings(T', hidden)`. */
  readonly positionEmbeddings: string;
}

/**
 * Frames (or mel bins) left after the subsampling: each strided conv leaves ⌊(n + 2·pad − kernel) / stride⌋ + 1,
 * which with the odd kernel padded by (kernel − 1) / 2 is ⌊(n − 1) / stride⌋ + 1.
 */
export function subsampledLength(frames: number, { stages, stride }: SubsamplingConfig): number {
  let n = frames;
  for (let stage = 0; stage < stages; stage++) n = Math.floor((n - 1) / stride) + 1;
  return n;
}

/**
 * The sinusoid table of relative positions T'−1 down to −(T'−1), [2T'−1, width]: row r, position
 * P = T'−1−r, holds sin(P·ω_i) at 2i and cos(P·ω_i) at 2i+1, ω_i = 10000^(−2i/width). Angles are
 * rounded to float32 as the references compute them.
 */
export function relativePositionEmbeddings(frames: number, width: number): Float32Array {
  const table = new Float32Array((2 * frames - 1) * width);
  const frequencies = Array.from({ length: width / 2 }, (_, i) => Math.fround(10000 ** ((-2 * i) / width)));
  for (let row = 0; row < 2 * frames - 1; row++) {
    const position = frames - 1 - row;
    frequencies.forEach((frequency, i) => {
      const angle = Math.fround(position * frequency);
      table[row * width + 2 * i] = Math.sin(angle);
      table[row * width + 2 * i + 1] = Math.cos(angle);
    });
  }
  return table;
}

/** A [B, T] float mask as a factor over the time axis of [B, C, T, F]. */
function timeFactor(g: GraphBuilder, mask: string): string {
  return g.op1("Unsqueeze", [mask, g.constant([1, 3])]);
}

/**
 * §4.3 subsampling (dw_striding): a strided conv 1 → C, then per further stage a strided depthwise
 * conv and a pointwise conv, each conv group followed by ReLU; the C channels × remaining mel bins
 * of each frame are flattened channel-major into one linear layer. Frames past the valid length are
 * zeroed after every conv, so they never leak into real frames; with an odd kernel padded by
 * (kernel − 1) / 2 a frame is valid after a conv exactly when every stride-th input frame is, so the
 * mask is strided along. Returns [B, T', hidden] and the mask of its frames.
 */
function subsampling(g: GraphBuilder, inputs: ConformerInputs, w: Weights, names: WeightNames, config: ConformerConfig): { x: string; mask: string } {
  const { stages, channels, kernel, stride } = config.subsampling;
  const pad = (kernel - 1) / 2;
  const convAt = (x: string, index: number, strided: boolean, groups = 1) =>
    ops.conv(g, x, {
      weight: w.required(`${names.subsamplingConvs}.${index}.weight`),
      bias: w.optional(`${names.subsamplingConvs}.${index}.bias`),
      groups,
      ...(strided ? { strides: [stride, stride], padding: [[pad, pad], [pad, pad]] as const } : {}),
    });
  let mask = inputs.frameMask;
  const stridedMask = () => g.op1("Slice", [mask, g.constant([0]), g.constant([Number.MAX_SAFE_INTEGER]), g.constant([1]), g.constant([stride])]);
  const masked = (x: string) => g.op1("Mul", [x, timeFactor(g, mask)]);

  // NeMo zeroes padded input frames too (transformers' feature extractor already has).
  let x = masked(g.op1("Unsqueeze", [inputs.features, g.constant([1])])); // [B, 1, T, mels]
  mask = stridedMask();
  x = g.op1("Relu", [masked(convAt(x, 0, true))]);
  // nn.Sequential indices: 0 conv, 1 ReLU, then (depthwise, pointwise, ReLU) per further stage.
  for (let stage = 1; stage < stages; stage++) {
    mask = stridedMask();
    const depthwise = masked(convAt(x, 3 * stage - 1, true, channels));
    x = g.op1("Relu", [masked(convAt(depthwise, 3 * stage, false))]);
  }

  const bins = subsampledLength(config.melBins, config.subsampling);
  const frames = g.op1("Reshape", [g.op1("Transpose", [x], { perm: [0, 2, 1, 3] }), g.constant([0, 0, channels * bins])]);
  const out = linearOfShape(w, names.subsamplingOut, [config.hiddenSize, channels * bins]);
  return { x: ops.linear(g, frames, out), mask };
}

/** `prefix` as a linear layer, checked against the shape the config implies. */
function linearOfShape(w: Weights, prefix: string, shape: readonly [number, number]): LinearSpec {
  const spec = w.linear(prefix);
  if (spec.weight.shape.join() !== shape.join()) {
    throw new LfmkitError(`${spec.weight.name} has shape [${spec.weight.shape}], the config implies [${shape}]`, w.where);
  }
  return spec;
}

/** linear1 → activation → linear2 (the caller halves it: macaron). */
function feedForward(g: GraphBuilder, x: string, w: Weights, config: ConformerConfig): string {
  return ops.mlp(g, x, w.linear("linear1"), w.linear("linear2"), config.activation);
}

/** §4.3 step 2: q, k, v and the projected positions into relative-position attention, then the output projection. */
function selfAttention(g: GraphBuilder, x: string, positionEmbeddings: string, mask: string, w: Weights, names: WeightNames, config: ConformerConfig): string {
  const project = (name: string, input = x) => ops.linear(g, input, w.linear(name));
  const mixed = ops.relativePositionAttention(g, project(names.query), project(names.key), project(names.value), project(names.position, positionEmbeddings), {
    heads: config.heads,
    headDim: config.hiddenSize / config.heads,
    contentBias: w.required(names.contentBias),
    positionBias: w.required(names.positionBias),
    mask,
  });
  return project(names.output, mixed);
}

/** A kernel-1 Conv1d [out, in, 1] as the linear layer it is, so it runs (and quantizes) as one. */
function pointwise(w: Weights, prefix: string): LinearSpec {
  const conv = w.required(`${prefix}.weight`);
  const asMatrix: WeightSource = { name: conv.name, shape: conv.shape.slice(0, 2), read: () => conv.read() };
  return w.asLinear(asMatrix, w.optional(`${prefix}.bias`));
}

/**
 * §4.3 step 3: pointwise conv to 2·hidden → GLU (first half · sigmoid(second half)) → padded frames
 * zeroed → depthwise conv over time with the batch norm folded in → activation → pointwise conv.
 */
function convModule(g: GraphBuilder, x: string, mask: string, w: Weights, names: WeightNames, config: ConformerConfig): string {
  const [content, gate] = g.op("Split", [ops.linear(g, x, pointwise(w, "pointwise_conv1"))], { axis: -1 }, { outputs: 2 });
  const glu = g.op1("Mul", [content, g.op1("Sigmoid", [gate])]);
  const realOnly = g.op1("Mul", [glu, g.op1("Unsqueeze", [mask, g.constant([2])])]);
  const pad = (config.convKernel - 1) / 2;
  const depthwise = ops.foldBatchNorm(
    { weight: w.required("depthwise_conv.weight"), bias: w.optional("depthwise_conv.bias"), groups: config.hiddenSize, padding: [[pad, pad]] },
    {
      weight: w.required(`${names.batchNorm}.weight`),
      bias: w.required(`${names.batchNorm}.bias`),
      runningMean: w.required(`${names.batchNorm}.running_mean`),
      runningVar: w.required(`${names.batchNorm}.running_var`),
      eps: NORM_EPS,
    },
  );
  const channelsFirst = g.op1("Transpose", [realOnly], { perm: [0, 2, 1] });
  const convolved = g.op1("Transpose", [ops.conv(g, channelsFirst, depthwise)], { perm: [0, 2, 1] });
  return ops.linear(g, ops.activation(g, convolved, config.activation), pointwise(w, "pointwise_conv2"));
}

function conformerLayer(g: GraphBuilder, x: string, positionEmbeddings: string, mask: string, w: Weights, names: WeightNames, config: ConformerConfig): string {
  const norm = (name: string, input: string) => ops.layerNorm(g, input, w.required(`${name}.weight`), w.required(`${name}.bias`), NORM_EPS);
  const half = (y: string) => g.op1("Mul", [y, g.scalar(0.5, "float32")]);
  x = g.op1("Add", [x, half(feedForward(g, norm("norm_feed_forward1", x), w.scope("feed_forward1"), config))]);
  x = g.op1("Add", [x, selfAttention(g, norm("norm_self_att", x), positionEmbeddings, mask, w.scope("self_attn"), names, config)]);
  x = g.op1("Add", [x, convModule(g, norm("norm_conv", x), mask, w.scope("conv"), names, config)]);
  x = g.op1("Add", [x, half(feedForward(g, norm("norm_feed_forward2", x), w.scope("feed_forward2"), config))]);
  return norm("norm_out", x);
}

/** The encoder's output [B, T', hidden]; `w` is scoped to the encoder's root (`CONFORMER_WEIGHTS[layout].root`). */
export function conformerEncoder(g: GraphBuilder, inputs: ConformerInputs, w: Weights, config: ConformerConfig): string {
  const names = CONFORMER_WEIGHTS[config.layout];
  let { x, mask } = subsampling(g, inputs, w, names, config);
  if (config.inputScale !== 1) x = g.op1("Mul", [x, g.scalar(config.inputScale, "float32")]);
  for (let layer = 0; layer < config.layers; layer++) {
    x = conformerLayer(g, x, inputs.positionEmbeddings, mask, w.scope(`layers.${layer}`), names, config);
  }
  return x;
}
