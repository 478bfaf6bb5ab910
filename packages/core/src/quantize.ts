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
 */
export function quantizeBlockwise(weights: Float32Array, rows: number, cols: number, bits: 4 | 8, blockSize = QUANT_BLOCK_SIZE[bits]): BlockQuantized {
  const blocksPerRow = Math.ceil(cols / blockSize);
  const blobBytes = (blockSize * bits) / 8;
  const data = new Uint8Array(rows * blocksPerRow * blobBytes);
  const scales = new Float32Array(rows * blocksPerRow);
  const maxCode = (1 << bits) - 1;
  // code = round(x / scale) + zero point, as floor(x / scale + zero point + 0.5) (JS rounds halves up).
  const offset = (1 << (bits - 1)) + 0.5;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocksPerRow; b++) {
      const start = r * cols + b * blockSize;
      const end = r * cols + Math.min(cols, (b + 1) * blockSize);
      let extreme = 0;
      let magnitude = 0;
      for (let i = start; i < end; i++) {
        const x = weights[i];
        const m = x < 0 ? -x : x;
        if (m > magnitude) {
          magnitude = m;
          extreme = x;
        }
      }
      const scale = bits === 4 ? extreme / -8 : magnitude / 127;
      const inverse = scale === 0 ? 0 : 1 / scale;
      const block = r * blocksPerRow + b;
      scales[block] = scale;
      const blob = block * blobBytes;
      for (let i = start, j = 0; j < blockSize; i++, j++) {
        const x = i < end ? weights[i] : 0;
        let code = Math.floor(x * inverse + offset);
        if (code > maxCode) code = maxCode;
        else if (code < 0) code = 0;
        if (bits === 8) data[blob + j] = code;
        else data[blob + (j >> 1)] |= j & 1 ? code << 4 : code;
      }
    }
  }
  return { bits, blockSize, data, scales, blocksPerRow };
}
