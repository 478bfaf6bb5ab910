/** Linear layers: y = x Wᵀ (+ b), with W stored as float32 or as 8/4-bit blocks. */
import { quantizationGrid, quantizeWeight, type BlockGrid, type BlockQuantized } from "../quantize.js";
import type { GraphBuilder } from "../onnx/graph.js";
import { stackedRows, type LinearSpec, type WeightSource } from "../weights.js";

/** A float32 weight stored once, whatever number of nodes read it. */
export function floatWeight(g: GraphBuilder, source: WeightSource): string {
  if (g.has(source.name)) return source.name;
  return g.weight(source.name, source.read(g.scratch(source.shape.reduce((a, b) => a * b, 1))), [...source.shape]);
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
  const inFeatures = spec.weight.shape[1];
  const { grid, slices } = quantizedWeight(g, spec);
  const products = slices.map((slice) =>
    g.op1(
      "MatMulNBits",
      [x, slice.data, slice.scales],
      { K: inFeatures, N: slice.rows, bits: grid.bits, block_size: grid.blockSize, accuracy_level: spec.accuracyLevel ?? 4 },
      "com.microsoft",
    ),
  );
  return products.length === 1 ? products[0] : g.op1("Concat", products, { axis: -1 });
}

/** One row slice of a block-quantized weight: its `MatMulNBits` initializers. */
export interface QuantizedSlice {
  readonly data: string;
  readonly scales: string;
  readonly rows: number;
}

/**
 * A q8/q4 linear weight's initializers, stored once whatever number of products read it, as row
 * slices of at most `MAX_QUANTIZED_SLICE` values. `blocks` are its `quantizeBlockwise` blocks when
 * the caller has them already (a tied LM head shares its embedding table's).
 */
export function quantizedWeight(g: GraphBuilder, spec: LinearSpec, blocks?: BlockQuantized): { grid: BlockGrid; slices: QuantizedSlice[] } {
  const { grid, slices } = quantizedSlices(spec);
  if (!g.has(slices[0].data)) {
    const asStored = grid === spec.weight.quantized ? spec.weight.blocks : undefined;
    writeQuantized(g, spec, blocks ?? asStored?.() ?? quantizeWeight(spec.weight, grid, { scratch: (count) => g.scratch(count) }));
  }
  return { grid, slices };
}

/**
 * Builds the q8/q4 initializers of weights stored in files with one width and value type (a layer's
 * experts) by quantizing them as one matrix of all their rows, each weight's initializers written as
 * soon as its rows are done: one matrix of many chunks lets the file's next rows be read while these
 * are quantized. Blocks span no rows, so each weight gets the blocks it would get alone. Leaves any
 * other weights (or ones built already) to `linear`, which quantizes them one by one.
 */
export function quantizeTogether(g: GraphBuilder, specs: readonly LinearSpec[]): void {
  if (specs.length < 2 || new Set(specs.map((spec) => spec.weight.name)).size < specs.length) return;
  const [first] = specs;
  const together = stackedRows(specs.map((spec) => spec.weight));
  const alike = specs.every((spec) => spec.format !== "f32" && spec.format === first.format && !spec.weight.quantized && spec.weight.shape[1] === first.weight.shape[1]);
  if (!alike || !together.stored || specs.some((spec) => g.has(quantizedSlices(spec).slices[0].data))) return;
  let [written, rowEnd] = [0, 0];
  const progress = (rowsDone: number, q: BlockQuantized): void => {
    for (; written < specs.length && rowEnd + specs[written].weight.shape[0] <= rowsDone; written++) {
      const [from, to] = [rowEnd, (rowEnd += specs[written].weight.shape[0])];
      const rowBytes = q.data.length / together.shape[0];
      writeQuantized(g, specs[written], { ...q, data: q.data.subarray(from * rowBytes, to * rowBytes), scales: q.scales.subarray(from * q.blocksPerRow, to * q.blocksPerRow) });
    }
  };
  quantizeWeight(together, quantizedSlices(first).grid, { scratch: (count) => g.scratch(count), progress, output: (count) => g.scratchBytes(count) });
}

function quantizedSlices(spec: LinearSpec): { grid: BlockGrid; slices: QuantizedSlice[] } {
  const [outFeatures, inFeatures] = spec.weight.shape;
  const grid = quantizationGrid(spec.format === "q8" ? 8 : 4, spec.weight.quantized);
  const sliceRows = Math.max(1, Math.floor(MAX_QUANTIZED_SLICE / inFeatures));
  const slices: QuantizedSlice[] = [];
  for (let first = 0; first < outFeatures; first += sliceRows) {
    const rows = Math.min(sliceRows, outFeatures - first);
    const name = `${spec.weight.name}.${spec.format}${rows === outFeatures ? "" : `.rows${first}`}`;
    slices.push({ data: `${name}.data`, scales: `${name}.scales`, rows });
  }
  return { grid, slices };
}

function writeQuantized(g: GraphBuilder, spec: LinearSpec, q: BlockQuantized): void {
  const { grid, slices } = quantizedSlices(spec);
  if (q.bits !== grid.bits || q.blockSize !== grid.blockSize) throw new Error(`${spec.weight.name}: blocks of ${q.bits} bits × ${q.blockSize} given for a ${spec.format} weight on ${grid.bits} × ${grid.blockSize}`);
  const blobBytes = q.data.length / (spec.weight.shape[0] * q.blocksPerRow);
  let first = 0;
  for (const slice of slices) {
    const [from, to] = [first * q.blocksPerRow, (first + slice.rows) * q.blocksPerRow];
    g.weight(slice.data, q.data.subarray(from * blobBytes, to * blobBytes), [slice.rows, q.blocksPerRow, blobBytes]);
    g.weight(slice.scales, q.scales.subarray(from, to), [slice.rows * q.blocksPerRow]);
    first += slice.rows;
  }
}
