/**
 * Multi-head attention with relative positions, Transformer-XL style (Dai et al. 2019, §3.3), as
 * NeMo's `RelPositionMultiHeadAttention` and transformers' `ParakeetEncoderAttention` compute it:
 *
 *   scores[i, j] = ((q_i + u) · k_j  +  (q_i + v) · p_{i−j}) / √hd
 *
 * u and v are learned per-head biases, p the projected embedding of relative position i − j. The
 * position term is computed against every relative position, then moved into place by the
 * relative shift.
 */
import type { GraphBuilder } from "../onnx/graph.js";
import type { WeightSource } from "../weights.js";
import { keyPaddingBias } from "./attention.js";
import { INT64_MAX, ONNX_FLOAT } from "./constants.js";
import { floatWeight } from "./linear.js";

export interface RelativeAttentionSpec {
  readonly heads: number;
  readonly headDim: number;
  /** u, [H, hd]: added to the queries scored against the keys (`pos_bias_u`, `bias_u`). */
  readonly contentBias: WeightSource;
  /** v, [H, hd]: added to the queries scored against the positions (`pos_bias_v`, `bias_v`). */
  readonly positionBias: WeightSource;
  /**
   * [B, S], 1 at real positions and 0 at padding. Padded keys get no weight, and padded queries
   * attend to nothing (their output is 0), as NeMo masks them.
   */
  readonly mask?: string;
}

/**
 * Transformer-XL's relative shift of position scores [B, H, S, 2S−1] (column r: relative position
 * S−1−r) to [B, H, S, S] with out[i, j] = in[i, S−1−i+j], i.e. the score of relative position i − j:
 * pad one zero column on the left, read the rows as one run, drop its first S values, and cut the
 * run back into rows of 2S−1, keeping the first S columns.
 */
function relativeShift(g: GraphBuilder, scores: string, seq: string): string {
  const padded = g.op1("Pad", [scores, g.constant([0, 0, 0, 1, 0, 0, 0, 0])]); // [B, H, S, 2S]
  const run = g.op1("Reshape", [padded, g.constant([0, 0, -1])]); // [B, H, 2S²]
  const lastAxis = g.constant([-1]);
  const dropped = g.op1("Slice", [run, seq, g.constant([INT64_MAX]), lastAxis]); // [B, H, S·(2S−1)]
  const rows = g.op1("Reshape", [dropped, g.op1("Concat", [g.constant([0, 0]), seq, g.constant([-1])], { axis: 0 })]); // [B, H, S, 2S−1]
  return g.op1("Slice", [rows, g.constant([0]), seq, lastAxis]);
}

/**
 * q, k, v: [B, S, H·hd] (projected); positions: [1 or B, 2S−1, H·hd], the projected embeddings of
 * relative positions S−1 down to −(S−1). Returns the heads' outputs [B, S, H·hd], before the output
 * projection.
 */
export function relativePositionAttention(g: GraphBuilder, q: string, k: string, v: string, positions: string, spec: RelativeAttentionSpec): string {
  const { heads, headDim } = spec;
  const split = (x: string) => g.op1("Reshape", [x, g.constant([0, 0, heads, headDim])]); // [B, S, H, hd]
  const seq = g.op1("Shape", [q], { start: 1, end: 2 });
  const scale = g.scalar(1 / Math.sqrt(headDim), "float32");
  const biasedQueries = (bias: WeightSource) =>
    g.op1("Transpose", [g.op1("Mul", [g.op1("Add", [split(q), floatWeight(g, bias)]), scale])], { perm: [0, 2, 1, 3] }); // [B, H, S, hd]
  const transposedHeads = (x: string) => g.op1("Transpose", [split(x)], { perm: [0, 2, 3, 1] }); // [B, H, hd, S]

  const contentScores = g.op1("MatMul", [biasedQueries(spec.contentBias), transposedHeads(k)]); // [B, H, S, S]
  const positionScores = g.op1("MatMul", [biasedQueries(spec.positionBias), transposedHeads(positions)]); // [B, H, S, 2S−1]
  let scores = g.op1("Add", [contentScores, relativeShift(g, positionScores, seq)]);
  if (spec.mask) scores = g.op1("Add", [scores, keyPaddingBias(g, spec.mask)]);

  const values = g.op1("Transpose", [split(v)], { perm: [0, 2, 1, 3] }); // [B, H, S, hd]
  const mixed = g.op1("MatMul", [g.op1("Softmax", [scores], { axis: -1 }), values]);
  const output = g.op1("Reshape", [g.op1("Transpose", [mixed], { perm: [0, 2, 1, 3] }), g.constant([0, 0, heads * headDim])]);
  if (!spec.mask) return output;
  const realQueries = g.op1("Unsqueeze", [g.op1("Cast", [spec.mask], { to: ONNX_FLOAT }), g.constant([2])]); // [B, S, 1]
  return g.op1("Mul", [output, realQueries]);
}
