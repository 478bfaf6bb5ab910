/**
 * A block-quantized matrix whose rows are read on request and dequantized, as `RowTable` reads float32
 * rows. The blocks are `quantizeBlockwise`'s (the `MatMulNBits` layout), on any grid: a GGUF Q8_0 /
 * Q4_0 tensor keeps its 32-value blocks, whose values that grid reproduces exactly.
 *
 * Each row is one record, so a row is one `pread`: the row's block scales (float32), then its block
 * codes (`blockSize · bits / 8` bytes per block, offset by the zero point 2^(bits−1)).
 */
import { dequantizeBlockwise, quantizeBlockwise, type BlockGrid, type BlockQuantized } from "../quantize.js";
import { RowFile, type RowReader } from "./row-table.js";

/** Bytes of one row record of `columns` values on `grid`. */
export function quantizedRowBytes(columns: number, grid: BlockGrid): number {
  const blocks = Math.ceil(columns / grid.blockSize);
  return blocks * (4 + (grid.blockSize * grid.bits) / 8);
}

/** The records of a row-major `[rows, columns]` matrix quantized on `grid`, one row at a time. */
export function encodeQuantizedRows(values: Float32Array, rows: number, columns: number, grid: BlockGrid): Uint8Array {
  return quantizedRowRecords(quantizeBlockwise(values, rows, columns, grid.bits, grid.blockSize), rows);
}

/**
 * The records of a matrix already quantized (blocks never span rows, so a row's blocks are those
 * quantizing it alone would give): what a tied LM head's blocks are written to its embedding table as.
 */
export function quantizedRowRecords(q: BlockQuantized, rows: number): Uint8Array {
  const scaleBytes = q.blocksPerRow * 4;
  const codeBytes = q.data.length / rows;
  const rowBytes = scaleBytes + codeBytes;
  const out = new Uint8Array(rows * rowBytes);
  const scales = new Uint8Array(q.scales.buffer, q.scales.byteOffset, q.scales.byteLength);
  for (let r = 0; r < rows; r++) {
    out.set(scales.subarray(r * scaleBytes, (r + 1) * scaleBytes), r * rowBytes);
    out.set(q.data.subarray(r * codeBytes, (r + 1) * codeBytes), r * rowBytes + scaleBytes);
  }
  return out;
}

export class QuantizedRowTable implements RowReader {
  private readonly file: RowFile;
  /** One row record, reused by every read, and the same bytes seen as one row of blocks. */
  private readonly record: Uint8Array;
  private readonly blocks: BlockQuantized;

  constructor(
    readonly path: string,
    readonly rows: number,
    readonly columns: number,
    readonly grid: BlockGrid,
  ) {
    this.file = new RowFile(path, rows, quantizedRowBytes(columns, grid), `a ${rows}×${columns} table of ${grid.bits}-bit blocks of ${grid.blockSize}`);
    this.record = new Uint8Array(this.file.rowBytes);
    const blocks = Math.ceil(columns / grid.blockSize);
    this.blocks = { ...grid, scales: new Float32Array(this.record.buffer, 0, blocks), data: this.record.subarray(blocks * 4), blocksPerRow: blocks };
  }

  gather(indices: readonly number[]): Float32Array {
    const out = new Float32Array(indices.length * this.columns);
    indices.forEach((index, i) => {
      this.file.read(index, this.record);
      dequantizeBlockwise(this.blocks, 1, this.columns, out.subarray(i * this.columns, (i + 1) * this.columns));
    });
    return out;
  }

  close(): void {
    this.file.close();
  }
}
