/**
 * The block quantization loops (`quantizeBlockwise`'s, see there for the rules). Helper threads run
 * them from their source text (the package also runs from TypeScript sources, where no worker file
 * exists), so each function here uses only its arguments, the other functions of this file and
 * Node's globals (`Atomics`, `Buffer`, `WebAssembly`).
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

export type QuantizeRows = typeof quantizeRows;

/**
 * `quantizeRows` with the block loops of `quantize.wat` (WebAssembly SIMD; `wasmBase64`, its bytes)
 * wherever a row is whole blocks of a multiple of 8 values, and `fallback` (`quantizeRows`) for
 * other rows and where the runtime has no WebAssembly SIMD. The module does the same float64
 * arithmetic on the same values, so the codes and scales are the same. Values pass through its
 * memory a few rows at a time.
 */
export function simdQuantizeRows(wasmBase64: string, fallback: QuantizeRows): QuantizeRows {
  let kernels: {
    memory: { buffer: ArrayBuffer; grow(pages: number): number };
    quantize: (src: number, blocks: number, blockSize: number, codes: number, scales: number, bits: number) => void;
  };
  try {
    kernels = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(wasmBase64, "base64"))).exports as typeof kernels;
  } catch {
    return fallback;
  }
  const PASS_VALUES = 1 << 16;
  return (weights, cols, bits, blockSize, data, scales, firstRow, endRow) => {
    if (cols % blockSize !== 0 || blockSize % 8 !== 0) return fallback(weights, cols, bits, blockSize, data, scales, firstRow, endRow);
    const passRows = Math.max(1, Math.floor(PASS_VALUES / cols));
    for (let first = firstRow; first < endRow; first += passRows) {
      const end = Math.min(endRow, first + passRows);
      const values = (end - first) * cols;
      const [codesAt, blocks] = [4 * values, values / blockSize];
      const scalesAt = codesAt + (values * bits) / 8; // a multiple of 4: blocks are multiples of 8 values
      const { memory } = kernels;
      if (memory.buffer.byteLength < scalesAt + 4 * blocks) memory.grow(Math.ceil((scalesAt + 4 * blocks - memory.buffer.byteLength) / 65536));
      new Float32Array(memory.buffer, 0, values).set(weights.subarray(first * cols, end * cols));
      kernels.quantize(0, blocks, blockSize, codesAt, scalesAt, bits);
      data.set(new Uint8Array(memory.buffer, codesAt, scalesAt - codesAt), (first * cols * bits) / 8);
      scales.set(new Float32Array(memory.buffer, scalesAt, blocks), first * (cols / blockSize));
    }
  };
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

/** Where some consecutive rows of a stored matrix lie: in a file, and in a buffer they are read into. */
export interface StoredSegment {
  readonly file: string;
  readonly position: number;
  /** The first row, counted from the first one read. */
  readonly row: number;
  readonly rows: number;
  /** Where in the buffer the segment's first byte goes. */
  readonly at: number;
  readonly length: number;
}

/**
 * The segments of rows [firstRow, firstRow + count) of a `cols`-column matrix stored in a file, one
 * per run of rows they cross, laid out in a buffer in order: packed (`align` 1), or each in whole
 * blocks of `align` bytes of its own (4096, for direct reads into page-aligned memory, which fill the
 * whole blocks around a segment), at the offset in them that its file position has. Returns the
 * bytes they span too.
 */
export function storedSegments(stored: Stored, firstRow: number, count: number, cols: number, align: number): { segments: StoredSegment[]; bytes: number } {
  const rowBytes = cols * (stored.dtype === "F32" ? 4 : 2);
  const segments: StoredSegment[] = [];
  let [runStart, end] = [0, 0];
  for (const run of stored.runs) {
    const from = Math.max(firstRow, runStart);
    const to = Math.min(firstRow + count, runStart + run.rows);
    if (from < to) {
      const position = run.offset + (from - runStart) * rowBytes;
      const at = Math.ceil(end / align) * align + (position % align);
      segments.push({ file: run.file, position, row: from - firstRow, rows: to - from, at, length: (to - from) * rowBytes });
      end = at + (to - from) * rowBytes;
    }
    runStart += run.rows;
  }
  return { segments, bytes: end };
}

/** Reads `segments` into `bytes` with `read`, the core's `RangeReader` (passed in so that this function's source runs on a helper thread too). */
export function readSegments(read: RangeReader, segments: readonly StoredSegment[], bytes: Uint8Array, inPlace: boolean): void {
  for (const segment of segments) read(segment.file, segment.position, bytes.subarray(segment.at, segment.at + segment.length), segment.file, inPlace);
}

/**
 * Takes `take` rows at a time from `shared.next[0]` until a chunk's `count` rows are taken, and
 * quantizes them in the chunk's shared buffers, first widening them from the chunk's raw file bytes
 * when there are such (`raw`, laid out as its `segments` say) with `widen`, the core's `widenBf16`;
 * `quantize` is `quantizeRows` or `simdQuantizeRows`'s.
 */
export function takeRows(
  widen: (halves: Uint8Array, out: Float32Array) => void,
  quantize: QuantizeRows,
  shared: { readonly weights: Float32Array; readonly data: Uint8Array; readonly scales: Float32Array; readonly next: Int32Array },
  raw: { readonly dtype: "F32" | "BF16"; readonly bytes: Uint8Array; readonly segments: readonly StoredSegment[] } | undefined,
  count: number,
  take: number,
  cols: number,
  bits: number,
  blockSize: number,
): void {
  for (let first = Atomics.add(shared.next, 0, take); first < count; first = Atomics.add(shared.next, 0, take)) {
    const end = Math.min(count, first + take);
    const rowBytes = cols * (raw?.dtype === "F32" ? 4 : 2);
    for (const segment of raw?.segments ?? []) {
      const [from, to] = [Math.max(first, segment.row), Math.min(end, segment.row + segment.rows)];
      if (from >= to) continue;
      const values = shared.weights.subarray(from * cols, to * cols);
      const bytes = raw!.bytes.subarray(segment.at + (from - segment.row) * rowBytes, segment.at + (to - segment.row) * rowBytes);
      if (raw!.dtype === "BF16") widen(bytes, values);
      else new Uint8Array(values.buffer, values.byteOffset, values.byteLength).set(bytes);
    }
    quantize(shared.weights, cols, bits, blockSize, shared.data, shared.scales, first, end);
  }
}
