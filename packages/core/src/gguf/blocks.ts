/**
 * Q8_0 / Q4_0 blocks. llama.cpp's quantizers leave one value per block at the extreme code, so
 * `quantizeBlockwise` (same 32-value blocks, same scale rule) turns the dequantized values back into
 * exactly the same blocks.
 */
import { floatToHalf, halfToFloat } from "../dtype.js";
import { dequantizeBlockwise, quantizeBlockwise, type BlockQuantized } from "../quantize.js";
import { BLOCK } from "./types.js";

export function dequantizeGgmlBlocks(type: "Q8_0" | "Q4_0", bytes: Uint8Array): Float32Array {
  const values = (bytes.length / (type === "Q8_0" ? 34 : 18)) * BLOCK;
  return dequantizeBlockwise(ggmlBlocksAsMatMulNBits(type, bytes, values), 1, values);
}

/**
 * The Q8_0 / Q4_0 blocks of a row-major matrix of `cols` columns as `MatMulNBits` blocks, without
 * passing through float values: Q8_0's int8 codes are offset by 128, Q4_0's nibbles (values j and
 * j + 16 of a block share byte j) are put in order (values 2k and 2k + 1 share byte k), and the f16
 * scales are widened. These are the blocks `quantizeBlockwise` makes of the dequantized values (see
 * above), at a fraction of the cost, and exactly the file's blocks whatever quantizer wrote them.
 */
export function ggmlBlocksAsMatMulNBits(type: "Q8_0" | "Q4_0", bytes: Uint8Array, cols: number): BlockQuantized {
  const [bits, blockBytes] = type === "Q8_0" ? ([8, 34] as const) : ([4, 18] as const);
  const blob = (BLOCK * bits) / 8;
  const blocks = bytes.length / blockBytes;
  const data = new Uint8Array(blocks * blob);
  const scales = new Float32Array(blocks);
  for (let b = 0; b < blocks; b++) {
    const base = b * blockBytes;
    scales[b] = halfToFloat(bytes[base] | (bytes[base + 1] << 8));
    const [from, to] = [base + 2, b * blob];
    if (bits === 8) {
      for (let j = 0; j < BLOCK; j++) data[to + j] = (bytes[from + j] + 128) & 255;
    } else {
      // Values 0..15 are the low nibbles of the 16 bytes, values 16..31 their high nibbles.
      for (let k = 0; k < 8; k++) {
        const even = bytes[from + 2 * k];
        const odd = bytes[from + 2 * k + 1];
        data[to + k] = (even & 15) | ((odd & 15) << 4);
        data[to + 8 + k] = (even >> 4) | (odd & 0xf0);
      }
    }
  }
  return { bits, blockSize: BLOCK, data, scales, blocksPerRow: cols / BLOCK };
}

/**
 * Quantizes float32 values (a multiple of 32) into Q8_0 or Q4_0 blocks. The codes and scales are
 * `quantizeBlockwise`'s (the same rule as llama.cpp's reference quantizer); only the byte layout
 * differs: int8 codes without offset, Q4_0 nibbles split into halves, scales stored as f16.
 */
export function quantizeGgml(type: "Q8_0" | "Q4_0", values: Float32Array): Uint8Array {
  const bits = type === "Q8_0" ? 8 : 4;
  const q = quantizeBlockwise(values, values.length / BLOCK, BLOCK, bits, BLOCK);
  const blockBytes = type === "Q8_0" ? 34 : 18;
  const blob = (BLOCK * bits) / 8;
  const out = new Uint8Array(q.scales.length * blockBytes);
  const view = new DataView(out.buffer);
  q.scales.forEach((scale, b) => {
    const base = b * blockBytes;
    view.setUint16(base, floatToHalf(scale), true);
    for (let j = 0; j < BLOCK; j++) {
      if (bits === 8) view.setInt8(base + 2 + j, q.data[b * blob + j] - 128);
      else {
        const code = (q.data[b * blob + (j >> 1)] >> ((j & 1) * 4)) & 15;
        out[base + 2 + (j & 15)] |= j < 16 ? code : code << 4;
      }
    }
  });
  return out;
}
