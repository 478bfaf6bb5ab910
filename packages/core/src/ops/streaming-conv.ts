/**
 * 1-D convolutions over time run chunk by chunk. What a chunk needs from the ones before it (the
 * inputs its first outputs still read, the outputs the last chunk could not finish) enters and leaves
 * the graph as values, so a stream of chunks gives the same samples as one call over the whole input.
 */
import type { GraphBuilder } from "../onnx/graph.js";
import { INT64_MAX } from "./constants.js";
import type { ConvSpec } from "./convolution.js";
import { conv } from "./convolution.js";
import { floatWeight } from "./linear.js";

const TIME = 2;

/** How many earlier inputs a causal convolution's first output reads: (k − 1)·dilation + 1 − stride. */
export function causalContextLength(kernel: number, stride = 1, dilation = 1): number {
  return (kernel - 1) * dilation + 1 - stride;
}

export interface StreamingConvSpec extends Omit<ConvSpec, "padding"> {
  /** The inputs before this chunk, [B, C_in, causalContextLength]; absent when that length is 0. */
  readonly context?: string;
}

/**
 * Causal convolution of x [B, C_in, T] (T a multiple of the stride) after `context`: output t reads
 * inputs up to t·stride + stride − 1, the ones before this chunk taken from `context`. With a context of
 * zeros this is the left-padded causal convolution. Returns the output [B, C_out, T / stride] and the
 * next context (the last inputs, as many as the context holds).
 */
export function streamingConv(g: GraphBuilder, x: string, spec: StreamingConvSpec): { output: string; context?: string } {
  if (!spec.context) return { output: conv(g, x, spec) };
  const window = g.op1("Concat", [spec.context, x], { axis: TIME });
  const length = causalContextLength(spec.weight.shape[2], spec.strides?.[0], spec.dilations?.[0]);
  return { output: conv(g, window, spec), context: timeSlice(g, window, -length, INT64_MAX) };
}

export interface StreamingConvTransposeSpec {
  /** [C_in, C_out / groups, k] */
  readonly weight: ConvSpec["weight"];
  readonly bias?: ConvSpec["bias"];
  readonly stride: number;
  readonly groups?: number;
  /** The last chunk's unfinished outputs, without bias, [B, C_out, k − stride]; absent when k = stride. */
  readonly overlap?: string;
}

/**
 * Transposed convolution of x [B, C_in, T] whose last k − stride outputs are cut off, as causal
 * decoders do, and carried into the next chunk: they are the partial sums the next inputs complete.
 * Returns the output [B, C_out, T·stride] and the next overlap (the cut-off outputs, without bias).
 */
export function streamingConvTranspose(g: GraphBuilder, x: string, spec: StreamingConvTransposeSpec): { output: string; overlap?: string } {
  const full = g.op1("ConvTranspose", [x, floatWeight(g, spec.weight)], {
    kernel_shape: [spec.weight.shape[2]],
    strides: [spec.stride],
    group: spec.groups ?? 1,
  }); // [B, C_out, T·stride + k − stride]
  const addBias = (y: string) => (spec.bias ? g.op1("Add", [y, g.op1("Unsqueeze", [floatWeight(g, spec.bias), g.constant([1])])]) : y);
  if (!spec.overlap) return { output: addBias(full) };
  const tail = spec.weight.shape[2] - spec.stride;
  const head = g.op1("Add", [timeSlice(g, full, 0, tail), spec.overlap]);
  const summed = g.op1("Concat", [head, timeSlice(g, full, tail, INT64_MAX)], { axis: TIME });
  return { output: addBias(timeSlice(g, summed, 0, -tail)), overlap: timeSlice(g, summed, -tail, INT64_MAX) };
}

function timeSlice(g: GraphBuilder, x: string, start: number, end: number): string {
  return g.op1("Slice", [x, g.constant([start]), g.constant([end]), g.constant([TIME])]);
}
