/** Sparse mixtures of experts. */
import type { GraphBuilder } from "../onnx/graph.js";
import { stackedRows, type LinearSpec } from "../weights.js";
import { silu } from "./activations.js";
import { ONNX_BOOL, ONNX_INT64 } from "./constants.js";
import { linear, quantizeTogether } from "./linear.js";

export interface ExpertSpec {
  readonly gate: LinearSpec;
  readonly up: LinearSpec;
  readonly down: LinearSpec;
}

/**
 * Sparse mixture of SwiGLU experts: y[n] = Σ_e weights[n, e] · SwiGLU_e(rows[n]).
 * rows: [N, D]; weights: [N, E], zero where a row does not use an expert, at most `perRow` nonzero
 * in a row.
 *
 * The (expert, row) pairs are gathered once per layer, grouped by expert, and split into one batch
 * per expert, so an expert no row chose runs on an empty batch and its weights are never read. Each
 * expert runs two nodes: one `linear` over its stacked gate and up weights, and its down projection.
 * The SwiGLU between them runs once over all the layer's pairs. A decode step of many mostly idle
 * experts pays per node, not per row.
 *
 * ORT's allocation planner compares each new value of known rank with every freed value it could
 * not reuse, which is quadratic in the values whose sizes it cannot know: the per-expert batches
 * (4 s of the LFM2-8B-A1B shape's session start, ~2800 such values). The pairs therefore enter the
 * experts through a `Squeeze` whose axis only exists at run time; values of unknown rank skip that
 * search.
 *
 * The weighted outputs go back to their rows without a reducing scatter: ORT's CPU `ScatterND` with
 * `reduction: "add"` splits its updates across threads with no atomicity, so two updates of one row
 * could race (on the LFM2-8B-A1B shape the logits of one prompt differed by up to 0.16 from process
 * to process). Each pair is placed instead at its own (row, slot), the slot being how many earlier
 * experts the row uses, and the slots are summed, in expert order.
 */
export function sparseExperts(g: GraphBuilder, rows: string, weights: string, experts: readonly ExpertSpec[], perRow: number): string {
  const outFeatures = experts[0].down.weight.shape[0];
  const byExpert = g.op1("Transpose", [weights], { perm: [1, 0] }); // [E, N]
  const pairs = g.op1("Transpose", [g.op1("NonZero", [byExpert])], { perm: [1, 0] }); // [M, 2]: (expert, row), by expert
  const rowIndex = g.op1("Slice", [pairs, g.constant([1]), g.constant([2]), g.constant([1])]); // [M, 1]
  const pairWeights = g.op1("Unsqueeze", [g.op1("GatherND", [byExpert, pairs]), g.constant([1])]); // [M, 1]
  const routed = g.op1("Cast", [g.op1("Cast", [byExpert], { to: ONNX_BOOL })], { to: ONNX_INT64 });
  const rowsPerExpert = g.op1("ReduceSum", [routed, g.constant([1])], { keepdims: 0 }); // [E]
  const rowCount = g.op1("Shape", [rows], { start: 0, end: 1 });
  const runtimeAxis = g.op1("Cast", [g.op1("Greater", [rowCount, g.constant([-1])])], { to: ONNX_INT64 }); // [1]: always 1, unknown until run time
  const pairRows = g.op1("Squeeze", [g.op1("Unsqueeze", [g.op1("GatherND", [rows, rowIndex]), g.constant([1])]), runtimeAxis]); // [M, D], rank unknown to ORT
  const batches = g.op("Split", [pairRows, rowsPerExpert], { axis: 0 }, { outputs: experts.length });
  const gateUpSpecs = experts.map((expert) => ({ ...expert.gate, weight: stackedRows([expert.gate.weight, expert.up.weight]) }));
  quantizeTogether(g, gateUpSpecs);
  const gateUp = gateUpSpecs.map((spec, e) => linear(g, batches[e], spec));
  const [gate, up] = g.op("Split", [g.op1("Concat", gateUp, { axis: -2 })], { axis: -1 }, { outputs: 2 }); // [M, W] each
  const hidden = g.op("Split", [g.op1("Mul", [silu(g, gate), up]), rowsPerExpert], { axis: 0 }, { outputs: experts.length });
  quantizeTogether(g, experts.map((expert) => expert.down));
  const outputs = experts.map((expert, e) => linear(g, hidden[e], expert.down));
  const y = g.op1("Reshape", [g.op1("Concat", outputs, { axis: -2 }), g.constant([-1, outFeatures])]); // [M, D]
  const slots = g.op1("CumSum", [routed, g.scalar(0)], { exclusive: 1 }); // [E, N]: earlier experts of each row
  const places = g.op1("Concat", [rowIndex, g.op1("Unsqueeze", [g.op1("GatherND", [slots, pairs]), g.constant([1])])], { axis: 1 }); // [M, 2]: (row, slot)
  const empty = g.op1("Expand", [g.scalar(0, "float32"), g.op1("Concat", [rowCount, g.constant([perRow, outFeatures])], { axis: 0 })]); // [N, perRow, D]
  const placed = g.op1("ScatterND", [empty, places, g.op1("Mul", [y, pairWeights])]);
  return g.op1("ReduceSum", [placed, g.constant([1])], { keepdims: 0 });
}
