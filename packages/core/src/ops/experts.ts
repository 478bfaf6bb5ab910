/** Sparse mixtures of experts. */
import type { GraphBuilder } from "../onnx/graph.js";
import type { LinearSpec, WeightSource } from "../weights.js";
import { silu } from "./activations.js";
import { ONNX_BOOL, ONNX_INT64 } from "./constants.js";
import { linear } from "./linear.js";

export interface ExpertSpec {
  readonly gate: LinearSpec;
  readonly up: LinearSpec;
  readonly down: LinearSpec;
}

/**
 * Sparse mixture of SwiGLU experts: y[n] = Σ_e weights[n, e] · SwiGLU_e(rows[n]).
 * rows: [N, D]; weights: [N, E], zero where a row does not use an expert.
 *
 * The (expert, row) pairs are gathered once per layer, grouped by expert, and split into one batch
 * per expert, so an expert no row chose runs on an empty batch and its weights are never read. Each
 * expert's gate and up projections are one `linear` over their stacked weights: fewer nodes per
 * expert, which is what a decode step of many mostly idle experts pays for.
 */
export function sparseExperts(g: GraphBuilder, rows: string, weights: string, experts: readonly ExpertSpec[]): string {
  const outFeatures = experts[0].down.weight.shape[0];
  const byExpert = g.op1("Transpose", [weights], { perm: [1, 0] }); // [E, N]
  const pairs = g.op1("Transpose", [g.op1("NonZero", [byExpert])], { perm: [1, 0] }); // [M, 2]: (expert, row), by expert
  const rowIndex = g.op1("Slice", [pairs, g.constant([1]), g.constant([2]), g.constant([1])]); // [M, 1]
  const pairWeights = g.op1("Unsqueeze", [g.op1("GatherND", [byExpert, pairs]), g.constant([1])]); // [M, 1]
  const routed = g.op1("Cast", [g.op1("Cast", [byExpert], { to: ONNX_BOOL })], { to: ONNX_INT64 });
  const rowsPerExpert = g.op1("ReduceSum", [routed, g.constant([1])], { keepdims: 0 }); // [E]
  const batches = g.op("Split", [g.op1("GatherND", [rows, rowIndex]), rowsPerExpert], { axis: 0 }, { outputs: experts.length });
  const outputs = experts.map((expert, e) => {
    const gateUp: LinearSpec = { ...expert.gate, weight: stackedRows(expert.gate.weight, expert.up.weight) };
    const [gate, up] = g.op("Split", [linear(g, batches[e], gateUp)], { axis: -1 }, { outputs: 2 });
    return linear(g, g.op1("Mul", [silu(g, gate), up]), expert.down);
  });
  const y = g.op1("Reshape", [g.op1("Concat", outputs, { axis: -2 }), g.constant([-1, outFeatures])]); // [M, D]
  return g.op1("ScatterND", [g.op1("Mul", [rows, g.scalar(0, "float32")]), rowIndex, g.op1("Mul", [y, pairWeights])], { reduction: "add" });
}

/** Two weights of shapes [a, in] and [b, in], read as one [a + b, in]. */
function stackedRows(first: WeightSource, second: WeightSource): WeightSource {
  const [a, inFeatures] = first.shape;
  const b = second.shape[0];
  const [p, q] = [first.quantized, second.quantized];
  return {
    name: `${first.name}+${second.name}`,
    shape: [a + b, inFeatures],
    quantized: p && q && p.bits === q.bits && p.blockSize === q.blockSize ? p : undefined,
    read() {
      const stacked = new Float32Array((a + b) * inFeatures);
      stacked.set(first.read());
      stacked.set(second.read(), a * inFeatures);
      return stacked;
    },
  };
}
