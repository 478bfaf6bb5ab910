/** Comparisons against reference outputs. */

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let worst = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= worst)) worst = d;
  }
  return worst;
}

export function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let total = 0;
  for (let i = 0; i < a.length; i++) total += Math.abs(a[i] - b[i]);
  return a.length === 0 ? 0 : total / a.length;
}

/** ‖a − b‖ / ‖b‖ */
export function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length mismatch: ${a.length} vs ${b.length}`);
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

/**
 * A quantized graph with exact products (MatMulNBits at accuracy level 0) and the f32 graph of its
 * dequantized copy multiply by the same float32 values: they differ only in summation order. (The
 * default int8-activation products are bounded per product by core's MatMulNBits test; quantized
 * quality is judged on the trained demo model, not on random weights.)
 */
export const SUMMATION_ORDER_BOUND = 1e-4;

export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}

/** Steps whose reference top-1/top-2 logit margin is below this are near-ties that float rounding may flip. */
export const NEAR_TIE = 1e-3;

/**
 * How many leading greedy steps are comparable token for token: up to (not including) the first
 * step whose reference logits [steps, vocab] have a top-1/top-2 margin below NEAR_TIE.
 */
export function comparableGreedySteps(stepLogits: Float32Array, vocab: number): number {
  const steps = stepLogits.length / vocab;
  for (let s = 0; s < steps; s++) {
    let first = -Infinity;
    let second = -Infinity;
    for (let i = s * vocab; i < (s + 1) * vocab; i++) {
      const x = stepLogits[i];
      if (x > first) [first, second] = [x, first];
      else if (x > second) second = x;
    }
    if (first - second < NEAR_TIE) return s;
  }
  return steps;
}

/**
 * Independent reading of the MatMulNBits block layout (code − 2^(bits−1), times the block scale),
 * for checking lfmkit's quantizer against ONNX Runtime and GGUF blocks.
 */
export function dequantizeBlocks(
  q: { bits: 4 | 8; blockSize: number; data: Uint8Array; scales: Float32Array; blocksPerRow: number },
  rows: number,
  cols: number,
): Float32Array {
  const out = new Float32Array(rows * cols);
  const blob = (q.blockSize * q.bits) / 8;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const block = Math.floor(c / q.blockSize);
      const j = c % q.blockSize;
      const base = (r * q.blocksPerRow + block) * blob;
      const code = q.bits === 8 ? q.data[base + j] : (q.data[base + (j >> 1)] >> ((j & 1) * 4)) & 15;
      out[r * cols + c] = (code - (1 << (q.bits - 1))) * q.scales[r * q.blocksPerRow + block];
    }
  }
  return out;
}
