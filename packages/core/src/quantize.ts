import { quantizeRowsOnThreads } from "./quantize-threads.js";
import type { WeightSource } from "./weights.js";

/**
 * Values per quantization block: 128 at 4 bits (ORT's own default for `MatMulNBits`), 64 at 8 bits.
 * Larger blocks mean fewer scales to read and faster int8 kernels; measured in the core README.
 */
export const QUANT_BLOCK_SIZE: Readonly<Record<4 | 8, number>> = { 4: 128, 8: 64 };

/** A block quantization's kind: bits per value and values per block (each block has one scale). */
export interface BlockGrid {
  readonly bits: 4 | 8;
  readonly blockSize: number;
}

/**
 * The grid a weight is quantized on at `bits`: its own when its values already lie on one of those
 * bits (a GGUF Q8_0 / Q4_0 tensor, re-quantized exactly), else `QUANT_BLOCK_SIZE`.
 */
export function quantizationGrid(bits: 4 | 8, stored?: BlockGrid): BlockGrid {
  return stored?.bits === bits ? stored : { bits, blockSize: QUANT_BLOCK_SIZE[bits] };
}

export interface BlockQuantized extends BlockGrid {
  /** `[rows, blocksPerRow, blockSize * bits / 8]`, the `MatMulNBits` B layout. */
  readonly data: Uint8Array;
  /** `[rows * blocksPerRow]` */
  readonly scales: Float32Array;
  readonly blocksPerRow: number;
}

/**
 * Symmetric block quantization of a row-major `[rows, cols]` matrix, one scale per block of a row.
 * Values are stored offset by the implicit zero point 2^(bits-1), which is what `MatMulNBits`
 * assumes when no zero points are given. 4-bit uses the signed extreme (as llama.cpp's Q4_0),
 * so the full range [-8, 7] is used; 8-bit maps the absolute maximum to ±127.
 *
 * Large matrices are quantized on helper threads as well as this one; rows are independent, so the
 * result is the same either way.
 */
export function quantizeBlockwise(weights: Float32Array, rows: number, cols: number, bits: 4 | 8, blockSize = QUANT_BLOCK_SIZE[bits]): BlockQuantized {
  return quantized(weights, rows, cols, bits, blockSize);
}

/** The values of block-quantized `[rows, cols]` data (into `out` when given): (code − 2^(bits−1)) · the scale of its block. */
export function dequantizeBlockwise(q: BlockQuantized, rows: number, cols: number, out = new Float32Array(rows * cols)): Float32Array {
  const { bits, blockSize, data, scales, blocksPerRow } = q;
  const zeroPoint = 1 << (bits - 1);
  const blobBytes = (blockSize * bits) / 8;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const block = r * blocksPerRow + Math.floor(c / blockSize);
      const j = c % blockSize;
      const at = block * blobBytes;
      const code = bits === 8 ? data[at + j] : (data[at + (j >> 1)] >> ((j & 1) * 4)) & 15;
      out[r * cols + c] = (code - zeroPoint) * scales[block];
    }
  }
  return out;
}

/**
 * `quantizeBlockwise` of a `[rows, cols]` weight on `grid`. One stored in a file as it is read
 * (`WeightSource.stored`) is read from there a chunk of rows at a time, the next chunk while this one
 * is quantized (`quantizeRowsOnThreads`); any other is read first, into `scratch` when the source can.
 */
export function quantizeWeight(source: WeightSource, grid: BlockGrid, options: QuantizeWeightOptions): BlockQuantized {
  const [rows, cols] = source.shape;
  const count = rows * cols;
  const weights = source.stored ? { stored: source.stored, scratch: () => options.scratch(count) } : source.read(options.scratch(count));
  return quantized(weights, rows, cols, grid.bits, grid.blockSize, options);
}

export interface QuantizeWeightOptions {
  /** A buffer of at least `count` values for values read whole (a graph builder's `scratch`). */
  readonly scratch: (count: number) => Float32Array;
  /** Told as rows are done, in order: how many are, and the blocks being filled (final up to there). */
  readonly progress?: (rowsDone: number, blocks: BlockQuantized) => void;
  /** At least `count` bytes, 4-byte aligned, to hold the blocks (codes, then scales), for blocks only needed until `progress` has passed them on; fresh by default. */
  readonly output?: (count: number) => Uint8Array;
}

function quantized(weights: Parameters<typeof quantizeRowsOnThreads>[0], rows: number, cols: number, bits: 4 | 8, blockSize: number, options: Omit<QuantizeWeightOptions, "scratch"> = {}): BlockQuantized {
  const blocksPerRow = Math.ceil(cols / blockSize);
  const [dataBytes, scaleCount] = [(rows * blocksPerRow * blockSize * bits) / 8, rows * blocksPerRow];
  const scalesAt = Math.ceil(dataBytes / 4) * 4;
  const bytes = options.output?.(scalesAt + 4 * scaleCount);
  const data = bytes ? bytes.subarray(0, dataBytes) : new Uint8Array(dataBytes);
  const scales = bytes ? new Float32Array(bytes.buffer, bytes.byteOffset + scalesAt, scaleCount) : new Float32Array(scaleCount);
  const q = { bits, blockSize, data, scales, blocksPerRow };
  const { progress } = options;
  quantizeRowsOnThreads(weights, cols, bits, blockSize, q.data, q.scales, rows, progress && ((rowsDone) => progress(rowsDone, q)));
  return q;
}
