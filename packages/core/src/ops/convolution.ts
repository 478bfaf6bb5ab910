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
