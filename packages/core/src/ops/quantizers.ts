/**
 * Residual vector quantization (neural audio codecs): each stage codes, by its nearest codebook entry,
 * what the stages before it left over; decoding sums the chosen entries.
 */
import type { GraphBuilder } from "../onnx/graph.js";
import type { WeightSource } from "../weights.js";
import { floatWeight } from "./linear.js";

/**
 * Codes [stages, N] (int64) of vectors x [N, D], one codebook [entries, D] per stage: stage l picks
 * argmin_j ‖r_l − E_l[j]‖ for the residual r_l = x − Σ_{m<l} E_m[code_m] (the first entry on ties).
 */
export function residualQuantize(g: GraphBuilder, x: string, codebooks: readonly WeightSource[]): string {
  let residual = x;
  const codes: string[] = [];
  for (const codebook of codebooks) {
    const entries = floatWeight(g, codebook);
    // ‖r − e‖² = ‖r‖² − 2 r·e + ‖e‖²; ‖r‖² is the same for every entry, so it cannot change the argmin.
    const distances = g.op1("Gemm", [residual, entries, squaredNorms(g, codebook)], { transB: 1, alpha: { float: -2 }, beta: { float: 1 } });
    const code = g.op1("ArgMin", [distances], { axis: 1, keepdims: 0 }); // [N]
    codes.push(g.op1("Unsqueeze", [code, g.constant([0])]));
    residual = g.op1("Sub", [residual, g.op1("Gather", [entries, code], { axis: 0 })]);
  }
  return g.op1("Concat", codes, { axis: 0 });
}

/** Σ_l E_l[codes[l, n]] for codes [stages, N] (int64): the quantized vectors [N, D]. */
export function residualDequantize(g: GraphBuilder, codes: string, codebooks: readonly WeightSource[]): string {
  let sum = "";
  codebooks.forEach((codebook, stage) => {
    const code = g.op1("Gather", [codes, g.scalar(stage)], { axis: 0 }); // [N]
    const entry = g.op1("Gather", [floatWeight(g, codebook), code], { axis: 0 });
    sum = sum ? g.op1("Add", [sum, entry]) : entry;
  });
  return sum;
}

function squaredNorms(g: GraphBuilder, codebook: WeightSource): string {
  const name = `${codebook.name}.squared_norms`;
  if (g.has(name)) return name;
  const [entries, dim] = codebook.shape;
  const data = codebook.read();
  const norms = Float32Array.from({ length: entries }, (_, j) => {
    let sum = 0;
    for (let d = 0; d < dim; d++) sum += data[j * dim + d] ** 2;
    return sum;
  });
  return g.weight(name, norms, [entries]);
}
