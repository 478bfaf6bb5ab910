/**
 * The block quantization loops (`quantizeBlockwise`'s, see there for the rules). Helper threads run
 * them from their source text (the package also runs from TypeScript sources, where no worker file
 * exists), so each function here uses only its arguments and the other functions of this file.
 */
import type { RangeReader } from "./file-range.js";

/** Where a matrix's raw values lie (`StoredValues`). */
interface Stored {
  readonly dtype: "F32" | "BF16";
  readonly runs: readonly { readonly file: string; readonly offset: number; readonly rows: number }[];
}

/**
 * Quantizes rows [firstRow, endRow) of a row-major matrix of `cols` columns into `data` and `scales`
 * (laid out for all its rows). One loop per width: a model's weights are hundreds of millions of
 * values, and one shared loop (bits tested per value) ran about 3× slower.
 */
export function quantizeRows(weights: Float32Array, cols: number, bits: number, blockSize: number, data: Uint8Array, scales: Float32Array, firstRow: number, endRow: number): void {
  const blocksPerRow = Math.ceil(cols / blockSize);
  const blobBytes = (blockSize * bits) / 8;
  for (let r = firstRow; r < endRow; r++) {
    const rowEnd = (r + 1) * cols;
    for (let b = 0; b < blocksPerRow; b++) {
      const start = r * cols + b * blockSize;
      const end = Math.min(start + blockSize, rowEnd);
      const block = r * blocksPerRow + b;
      scales[block] = bits === 4 ? encodeBlock4(weights, start, end, data, block * blobBytes, blobBytes) : encodeBlock8(weights, start, end, data, block * blobBytes, blobBytes);
    }
  }
}

/**
 * code = round(x / scale) + zero point, as floor(x / scale + zero point + 0.5) (JS rounds halves up).
 * `| 0` floors here: |x / scale| is at most 8 (4-bit) or 127 (8-bit), so the sum is below 2^31, and
 * where truncation differs (a negative sum) the code clamps to 0 either way; NaN becomes 0 as well.
 */
export function code(x: number, inverse: number, offset: number, maxCode: number): number {
  const c = (x * inverse + offset) | 0;
  return c > maxCode ? maxCode : c < 0 ? 0 : c;
}

/** Encodes `weights[start, end)` (zero-padded to the block) as 4-bit codes at `data[at]`, two per byte, low nibble first; returns the scale. */
export function encodeBlock4(weights: Float32Array, start: number, end: number, data: Uint8Array, at: number, blobBytes: number): number {
  let extreme = 0;
  let magnitude = 0;
  for (let i = start; i < end; i++) {
    const x = weights[i];
    const m = Math.abs(x);
    if (m > magnitude) {
      magnitude = m;
      extreme = x;
    }
  }
  const scale = extreme / -8;
  const inverse = scale === 0 ? 0 : 1 / scale;
  const blobEnd = at + blobBytes;
  let i = start;
  for (; i + 1 < end; i += 2) data[at++] = code(weights[i], inverse, 8.5, 15) | (code(weights[i + 1], inverse, 8.5, 15) << 4);
  const padding = code(0, inverse, 8.5, 15);
  if (i < end) data[at++] = code(weights[i], inverse, 8.5, 15) | (padding << 4);
  while (at < blobEnd) data[at++] = padding | (padding << 4);
  return scale;
}

/** Encodes `weights[start, end)` (zero-padded to the block) as 8-bit codes at `data[at]`; returns the scale. */
export function encodeBlock8(weights: Float32Array, start: number, end: number, data: Uint8Array, at: number, blobBytes: number): number {
  let magnitude = 0;
  for (let i = start; i < end; i++) {
    const m = Math.abs(weights[i]);
    if (m > magnitude) magnitude = m;
  }
  const scale = magnitude / 127;
  const inverse = scale === 0 ? 0 : 1 / scale;
  const blobEnd = at + blobBytes;
  for (let i = start; i < end; i++) data[at++] = code(weights[i], inverse, 128.5, 255);
  const padding = code(0, inverse, 128.5, 255);
  while (at < blobEnd) data[at++] = padding;
  return scale;
}

/**
 * Reads rows [firstRow, firstRow + count) of a `cols`-column matrix stored in a file into `out`
 * (F32 as is; BF16 into the upper half of `out`'s bytes, then widened in place by `widen`, the core's
 * `widenBf16InPlace`) with `read`, the core's `RangeReader`; both are passed in so that this function's
 * source runs on a helper thread too.
 */
export function readStoredRows(
  read: RangeReader,
  widen: (values: Float32Array) => void,
  stored: Stored,
  firstRow: number,
  count: number,
  cols: number,
  out: Float32Array,
): void {
  const width = stored.dtype === "F32" ? 4 : 2;
  const length = count * cols * width;
  const bytes = new Uint8Array(out.buffer, out.byteOffset + out.byteLength - length, length);
  const rowBytes = cols * width;
  let runStart = 0;
  for (const run of stored.runs) {
    const from = Math.max(firstRow, runStart);
    const to = Math.min(firstRow + count, runStart + run.rows);
    if (from < to) read(run.file, run.offset + (from - runStart) * rowBytes, bytes.subarray((from - firstRow) * rowBytes, (to - firstRow) * rowBytes), run.file);
    runStart += run.rows;
  }
  if (width === 2) widen(out);
}

/**
 * Takes `take` rows at a time from `shared.next[0]` until a chunk's `count` rows are taken, and
 * quantizes them in the chunk's shared buffers, reading each take from the file first when the
 * weights are `stored` (the chunk starts at row `chunkRow` of the matrix).
 */
export function takeRows(
  read: RangeReader,
  widen: (values: Float32Array) => void,
  shared: { readonly weights: Float32Array; readonly data: Uint8Array; readonly scales: Float32Array; readonly next: Int32Array },
  stored: Stored | undefined,
  chunkRow: number,
  count: number,
  take: number,
  cols: number,
  bits: number,
  blockSize: number,
): void {
  for (let first = Atomics.add(shared.next, 0, take); first < count; first = Atomics.add(shared.next, 0, take)) {
    const end = Math.min(count, first + take);
    if (stored) readStoredRows(read, widen, stored, chunkRow + first, end - first, cols, shared.weights.subarray(first * cols, end * cols));
    quantizeRows(shared.weights, cols, bits, blockSize, shared.data, shared.scales, first, end);
  }
}
