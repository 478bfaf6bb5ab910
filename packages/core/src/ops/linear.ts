/** Linear layers: y = x Wᵀ (+ b), with W stored as float32 or as 8/4-bit blocks. */
import { quantizationGrid, quantizeBlockwise } from "../quantize.js";
import type { GraphBuilder } from "../onnx/graph.js";
import type { LinearSpec, WeightSource } from "../weights.js";

/** A float32 weight stored once, whatever number of nodes read it. */
export function floatWeight(g: GraphBuilder, source: WeightSource): string {
  return g.has(source.name) ? source.name : g.weight(source.name, source.read(), [...source.shape]);
}

/**
 * Quantized weights are split into slices of at most this many rows × columns. ORT repacks each
 * `MatMulNBits` weight at session load while the stored copy is still mapped, so the largest
 * single weight (a 65k-row LM head: 67 MB at 4 bits) sets the transient peak above the loaded
 * model; slices of 16M weights bound it at 8 MB.
 */
const MAX_QUANTIZED_SLICE = 1 << 24;

/** y = x Wᵀ (+ b) for W of shape [out, in] and x of shape [..., in]. */
export function linear(g: GraphBuilder, x: string, spec: LinearSpec): string {
  const y = spec.format === "f32" ? floatLinear(g, x, spec.weight) : quantizedLinear(g, x, spec);
  return spec.bias ? g.op1("Add", [y, floatWeight(g, spec.bias)]) : y;
}

/** One `Gemm` over the rows of x, whatever its leading axes. */
function floatLinear(g: GraphBuilder, x: string, weight: WeightSource): string {
  const [outFeatures, inFeatures] = weight.shape;
  const flat = g.op1("Reshape", [x, g.constant([-1, inFeatures])]);
  const product = g.op1("Gemm", [flat, floatWeight(g, weight)], { transB: 1 });
  const leading = g.op1("Shape", [x], { start: 0, end: -1 });
  return g.op1("Reshape", [product, g.op1("Concat", [leading, g.constant([outFeatures])], { axis: 0 })]);
}

function quantizedLinear(g: GraphBuilder, x: string, spec: LinearSpec): string {
  const [outFeatures, inFeatures] = spec.weight.shape;
  const bits = spec.format === "q8" ? 8 : 4;
  const q = quantizeBlockwise(spec.weight.read(), outFeatures, inFeatures, bits, quantizationGrid(bits, spec.weight.quantized).blockSize);
  const blobBytes = q.data.length / (outFeatures * q.blocksPerRow);
  const sliceRows = Math.max(1, Math.floor(MAX_QUANTIZED_SLICE / inFeatures));
  const slices: string[] = [];
  for (let first = 0; first < outFeatures; first += sliceRows) {
    const rows = Math.min(sliceRows, outFeatures - first);
    const name = `${spec.weight.name}.${spec.format}${rows === outFeatures ? "" : `.rows${first}`}`;
    const rowBlocks = (r: number) => r * q.blocksPerRow;
    const data = g.weight(`${name}.data`, q.data.subarray(rowBlocks(first) * blobBytes, rowBlocks(first + rows) * blobBytes), [rows, q.blocksPerRow, blobBytes]);
    const scales = g.weight(`${name}.scales`, q.scales.subarray(rowBlocks(first), rowBlocks(first + rows)), [rows * q.blocksPerRow]);
    slices.push(
      g.op1(
        "MatMulNBits",
        [x, data, scales],
        { K: inFeatures, N: rows, bits, block_size: q.blockSize, accuracy_level: spec.accuracyLevel ?? 4 },
        "com.microsoft",
      ),
    );
  }
  return slices.length === 1 ? slices[0] : g.op1("Concat", slices, { axis: -1 });
}
