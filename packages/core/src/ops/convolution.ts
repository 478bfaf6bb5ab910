/** Convolutions over time with their streaming state. */
import type { GraphBuilder } from "../onnx/graph.js";
import type { WeightSource } from "../weights.js";
import { INT64_MAX } from "./constants.js";
import { floatWeight } from "./linear.js";

export interface CausalConvSpec {
  /** Depthwise kernel [D, 1, L] (or [D, L]). */
  readonly kernel: WeightSource;
  readonly bias?: WeightSource;
  /** Graph input with the last L-1 inputs of the previous call, [1, L-1, D]. */
  readonly state: string;
}

/**
 * Causal depthwise convolution over time of x [1, S, D]: output step t mixes inputs t-L+1 … t of
 * its own channel, the steps before this call taken from `state`. Returns the output [1, S, D] and
 * the new state (the last L-1 inputs). Each tap is a slice times a per-channel weight, which ORT
 * runs faster than a grouped `Conv` at one step.
 */
export function causalDepthwiseConv(g: GraphBuilder, x: string, spec: CausalConvSpec): { output: string; state: string } {
  const [channels, ...rest] = spec.kernel.shape;
  const taps = rest[rest.length - 1];
  const window = g.op1("Concat", [spec.state, x], { axis: 1 }); // [1, L-1+S, D]
  const kernel = spec.kernel.read();
  let output = "";
  for (let tap = 0; tap < taps; tap++) {
    const tapWeights = new Float32Array(channels);
    for (let ch = 0; ch < channels; ch++) tapWeights[ch] = kernel[ch * taps + tap];
    const end = tap === taps - 1 ? INT64_MAX : tap - (taps - 1);
    const shifted = g.op1("Slice", [window, g.constant([tap]), g.constant([end]), g.constant([1])]);
    const term = g.op1("Mul", [shifted, g.weight(`${spec.kernel.name}.tap${tap}`, tapWeights, [channels])]);
    output = output ? g.op1("Add", [output, term]) : term;
  }
  if (spec.bias) output = g.op1("Add", [output, floatWeight(g, spec.bias)]);
  const state = g.op1("Slice", [window, g.constant([-(taps - 1)]), g.constant([INT64_MAX]), g.constant([1])]);
  return { output, state };
}

export interface ConvSpec {
  /** [out, in / groups, ...kernel] */
  readonly weight: WeightSource;
  readonly bias?: WeightSource;
  /** Per spatial axis (default 1). */
  readonly strides?: readonly number[];
  readonly dilations?: readonly number[];
  /** Zero padding per spatial axis, [begin, end]; default none. */
  readonly padding?: readonly (readonly [number, number])[];
  readonly groups?: number;
}

/** Convolution over x in ONNX layout [B, C, ...spatial] (1-D: [B, C, T]; 2-D: [B, C, H, W]). */
export function conv(g: GraphBuilder, x: string, spec: ConvSpec): string {
  const axes = spec.weight.shape.length - 2;
  const inputs = [x, floatWeight(g, spec.weight), ...(spec.bias ? [floatWeight(g, spec.bias)] : [])];
  return g.op1("Conv", inputs, convAttributes(axes, spec));
}

export interface ConvTransposeSpec extends Omit<ConvSpec, "padding"> {
  /** Outputs trimmed per spatial axis, [begin, end]; default none. */
  readonly trim?: readonly (readonly [number, number])[];
}

/** Transposed convolution over x [B, C, ...spatial]; weight [in, out / groups, ...kernel]. */
export function convTranspose(g: GraphBuilder, x: string, spec: ConvTransposeSpec): string {
  const axes = spec.weight.shape.length - 2;
  const inputs = [x, floatWeight(g, spec.weight), ...(spec.bias ? [floatWeight(g, spec.bias)] : [])];
  return g.op1("ConvTranspose", inputs, convAttributes(axes, { ...spec, padding: spec.trim }));
}

function convAttributes(axes: number, spec: ConvSpec): Record<string, number[] | number> {
  const ones = Array.from({ length: axes }, () => 1);
  const padding = spec.padding ?? Array.from({ length: axes }, () => [0, 0] as const);
  return {
    kernel_shape: spec.weight.shape.slice(2),
    strides: [...(spec.strides ?? ones)],
    dilations: [...(spec.dilations ?? ones)],
    pads: [...padding.map(([begin]) => begin), ...padding.map(([, end]) => end)],
    group: spec.groups ?? 1,
  };
}

export interface BatchNormSpec {
  readonly weight: WeightSource;
  readonly bias: WeightSource;
  readonly runningMean: WeightSource;
  readonly runningVar: WeightSource;
  readonly eps: number;
}

/**
 * A convolution followed by inference-mode batch norm, folded at build time into one convolution:
 * w' = w · γ/√(σ² + ε) per output channel, b' = (b − μ) · γ/√(σ² + ε) + β.
 */
export function foldBatchNorm(spec: ConvSpec, norm: BatchNormSpec): ConvSpec {
  const [outChannels] = spec.weight.shape;
  const perChannel = spec.weight.shape.slice(1).reduce((a, b) => a * b, 1);
  const scaleOf = () => {
    const [gamma, variance] = [norm.weight.read(), norm.runningVar.read()];
    return Float64Array.from(gamma, (g, c) => g / Math.sqrt(variance[c] + norm.eps));
  };
  const weight: WeightSource = {
    name: `${spec.weight.name}+bn`,
    shape: spec.weight.shape,
    read() {
      const scale = scaleOf();
      const w = Float32Array.from(spec.weight.read());
      for (let c = 0; c < outChannels; c++) for (let i = 0; i < perChannel; i++) w[c * perChannel + i] *= scale[c];
      return w;
    },
  };
  const bias: WeightSource = {
    name: `${norm.bias.name}+bn`,
    shape: [outChannels],
    read() {
      const scale = scaleOf();
      const [beta, mean] = [norm.bias.read(), norm.runningMean.read()];
      const b = spec.bias?.read();
      return Float32Array.from(beta, (beta_c, c) => ((b ? b[c] : 0) - mean[c]) * scale[c] + beta_c);
    },
  };
  return { ...spec, weight, bias };
}
