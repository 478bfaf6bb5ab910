/**
 * `quantizeRows` on helper threads as well as this one, for large matrices. A graph build is
 * synchronous, so this thread and the helpers take the rows of a chunk in shared memory a few at a
 * time from one counter (so a thread on a busier core simply takes fewer), then this thread blocks
 * (`Atomics.wait`) until each helper is done; the codes and scales are copied out, and the next chunk
 * follows. A chunk is filled by copying from the values in memory or, for a weight stored in a file
 * (`StoredValues`), from its raw bytes, which one more helper reads a chunk ahead while the others
 * quantize (with direct reads it costs little CPU), each thread widening the rows it takes.
 * The shared buffers are bounded by the chunk, not the matrix: a helper holds every shared buffer it
 * was sent until its own garbage collection, which a barely allocating thread does not run, so
 * buffers sent per call piled up there. Helpers are started on first use, one per core beyond this
 * one, and stopped with the buffers as soon as this thread is idle again (after the build).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { readAsF32, widenBf16 } from "./dtype.js";
import { createRangeReader, DIRECT_READ_MIN_FILE_BYTES, readRange, sharedReadBuffer } from "./file-range.js";
import { code, encodeBlock4, encodeBlock8, quantizeRows, readSegments, simdQuantizeRows, storedSegments, takeRows, type StoredSegment } from "./quantize-kernels.js";
import { QUANTIZE_WASM_BASE64 } from "./quantize-wasm.js";
import type { StoredValues } from "./weights.js";

/** Below this many values a matrix is quantized here alone: a helper's round trip costs more than it saves. */
const MIN_SHARED_VALUES = 1 << 20;
/** Values per chunk of rows sent to the helpers (32 MB of weights). */
const CHUNK_VALUES = 1 << 23;
/** Values per take from a chunk's row counter. */
const TAKE_VALUES = 1 << 16;
/** How long the first use waits for helpers to start (a worker takes ~50 ms to boot); later uses take those ready. */
const START_WAIT_MS = 1000;

interface Helper {
  readonly worker: Worker;
  /** [0]: 1 once the helper listens for work. */
  readonly ready: Int32Array;
}

/** The quantizing helpers, and the one that reads stored weights ahead of them. */
interface Helpers {
  readonly quantizers: readonly Helper[];
  readonly reader: Helper;
}

/** The shared chunk buffers. */
interface Shared {
  readonly weights: Float32Array;
  readonly data: Uint8Array;
  readonly scales: Float32Array;
  /** [slot] becomes 1 when a quantizer is done, 2 when it failed (this thread then redoes the chunk, so an error surfaces here). */
  readonly done: Int32Array;
  /** [0]: the next row of the chunk to take. */
  readonly next: Int32Array;
  /** Two chunks' raw file bytes: the reader fills one while the other is quantized. */
  readonly raw: readonly [Uint8Array, Uint8Array];
  /** Whether `raw` is page-aligned, so the reader's direct reads land there without a copy. */
  readonly rawPageAligned: boolean;
  /** [slot] becomes 1 when the reader has filled `raw[slot]`, 2 when it failed (this thread then reads it, so an error surfaces here). */
  readonly read: Int32Array;
}

/** A helper's source: `functions`, then `work`'s definition, run for each task posted with the `done[slot]` it reports to. */
function helperSource(functions: readonly ((...args: never[]) => unknown)[], work: string): string {
  return `
const { parentPort, workerData } = require("node:worker_threads");
${functions.join("\n")}
${work}
parentPort.on("message", ({ task, done, slot }) => {
  let state = 1;
  try {
    work(task);
  } catch {
    state = 2;
  }
  Atomics.store(done, slot, state);
  Atomics.notify(done, slot);
});
Atomics.store(workerData.ready, 0, 1);
Atomics.notify(workerData.ready, 0);
`;
}

const QUANTIZER_SOURCE = helperSource(
  [code, encodeBlock4, encodeBlock8, quantizeRows, simdQuantizeRows, widenBf16, takeRows],
  `const quantize = simdQuantizeRows("${QUANTIZE_WASM_BASE64}", quantizeRows);
const work = ({ shared, raw, count, take, cols, bits, blockSize }) => takeRows(widenBf16, quantize, shared, raw, count, take, cols, bits, blockSize);`,
);

/** This thread's block quantization loops. */
const quantize = simdQuantizeRows(QUANTIZE_WASM_BASE64, quantizeRows);

const READER_SOURCE = helperSource(
  [readSegments, createRangeReader],
  `const readRange = createRangeReader(require("node:fs"), ${DIRECT_READ_MIN_FILE_BYTES}, (message, where) => new Error(where + ": " + message));
const work = ({ segments, bytes, inPlace }) => readSegments(readRange, segments, bytes, inPlace);`,
);

let helpers: Helpers | undefined;
let shared: Shared | undefined;
let stopping: NodeJS.Timeout | undefined;

function startHelper(source: string): Helper {
  const ready = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(source, { eval: true, workerData: { ready } });
  worker.on("error", () => Atomics.store(ready, 0, 0));
  worker.unref();
  return { worker, ready };
}

function startHelpers(): Helpers {
  const started = { quantizers: Array.from({ length: availableParallelism() - 1 }, () => startHelper(QUANTIZER_SOURCE)), reader: startHelper(READER_SOURCE) };
  for (const helper of [...started.quantizers, started.reader]) Atomics.wait(helper.ready, 0, 0, START_WAIT_MS);
  return started;
}

function stopHelpers(): void {
  for (const helper of [...(helpers?.quantizers ?? []), ...(helpers ? [helpers.reader] : [])]) void helper.worker.terminate();
  helpers = undefined;
  shared = undefined;
}

const isReady = (helper: Helper): boolean => Atomics.load(helper.ready, 0) === 1;

/**
 * Waits until `helper` has reported on `cells[slot]` and returns the report. A helper that died
 * meanwhile (its `threadId` becomes −1; its error event cannot reach a thread blocked here) counts
 * as failed, so this thread then does the work itself.
 */
function reportOf(helper: Helper, cells: Int32Array, slot: number): number {
  while (Atomics.load(cells, slot) === 0) {
    if (helper.worker.threadId === -1) return 2;
    Atomics.wait(cells, slot, 0, 1000);
  }
  return Atomics.load(cells, slot);
}

/**
 * Buffers for chunks of `values` weights (of `rawBytes` in the file) quantized to `bytes` of codes
 * and `blocks` scales: the current ones when large enough, else new ones large enough for both.
 */
function sharedBuffers(values: number, rawBytes: number, bytes: number, blocks: number, slots: number): Shared {
  if (shared && shared.weights.length >= values && shared.raw[0].length >= rawBytes && shared.data.length >= bytes && shared.scales.length >= blocks && shared.done.length >= slots) return shared;
  if (shared) {
    values = Math.max(values, shared.weights.length);
    rawBytes = Math.max(rawBytes, shared.raw[0].length);
    bytes = Math.max(bytes, shared.data.length);
    blocks = Math.max(blocks, shared.scales.length);
    slots = Math.max(slots, shared.done.length);
  }
  const int32s = (count: number) => new Int32Array(new SharedArrayBuffer(4 * count));
  const raw = [sharedReadBuffer(rawBytes), sharedReadBuffer(rawBytes)] as const;
  return {
    weights: new Float32Array(new SharedArrayBuffer(4 * values)),
    data: new Uint8Array(new SharedArrayBuffer(bytes)),
    scales: new Float32Array(new SharedArrayBuffer(4 * blocks)),
    done: int32s(slots),
    next: int32s(1),
    raw: [raw[0].bytes, raw[1].bytes],
    rawPageAligned: raw[0].pageAligned && raw[1].pageAligned,
    read: int32s(2),
  };
}

/**
 * `quantizeRows` over all `rows` of a matrix, shared with the helpers that are ready: `weights` in
 * memory, or `stored` in a file (read a chunk at a time, or whole into `scratch` when small).
 * `onRows` is told after each chunk how many rows are done.
 */
export function quantizeRowsOnThreads(
  weights: Float32Array | { readonly stored: StoredValues; readonly scratch: () => Float32Array },
  cols: number,
  bits: number,
  blockSize: number,
  data: Uint8Array,
  scales: Float32Array,
  rows: number,
  onRows?: (rowsDone: number) => void,
): void {
  const whole = (): Float32Array => {
    if (weights instanceof Float32Array) return weights;
    const { segments } = storedSegments(weights.stored, 0, rows, cols, 1);
    return readAsF32(weights.stored.dtype, rows * cols, (bytes) => readSegments(readRange, segments, bytes, false), weights.scratch());
  };
  const inOnePass = (values: () => Float32Array): void => {
    quantize(values(), cols, bits, blockSize, data, scales, 0, rows);
    onRows?.(rows);
  };
  if (rows * cols < MIN_SHARED_VALUES) return inOnePass(whole);
  helpers ??= startHelpers();
  clearTimeout(stopping);
  stopping = setTimeout(stopHelpers).unref();
  const quantizers = helpers.quantizers.filter(isReady);
  if (quantizers.length === 0 && weights instanceof Float32Array) return inOnePass(whole);

  const stored = weights instanceof Float32Array ? undefined : weights.stored;
  const width = stored?.dtype === "F32" ? 4 : 2;
  const blocksPerRow = Math.ceil(cols / blockSize);
  const rowBytes = (blocksPerRow * blockSize * bits) / 8;
  const chunkRows = Math.max(1, Math.floor(CHUNK_VALUES / cols));
  // Each segment of rows has whole pages of its own in `raw` (`storedSegments`): under two more than it fills.
  const rawBytes = stored ? chunkRows * cols * width + 8192 * (stored.runs.length + 1) : 0;
  const buffers = (shared = sharedBuffers(chunkRows * cols, rawBytes, chunkRows * rowBytes, chunkRows * blocksPerRow, quantizers.length));
  const chunkCount = (chunkRow: number) => Math.min(chunkRows, rows - chunkRow);
  const take = Math.max(1, Math.floor(TAKE_VALUES / cols));

  // Stored weights: the reader fills one raw buffer with the next chunk while the other is quantized.
  const reader = stored && isReady(helpers.reader) ? helpers.reader : undefined;
  const layouts: StoredSegment[][] = [];
  const readChunkAhead = (chunkRow: number, slot: number): void => {
    if (!stored || chunkRow >= rows) return;
    layouts[slot] = storedSegments(stored, chunkRow, chunkCount(chunkRow), cols, buffers.rawPageAligned ? 4096 : 1).segments;
    if (!reader) return;
    Atomics.store(buffers.read, slot, 0);
    reader.worker.postMessage({ task: { segments: layouts[slot], bytes: buffers.raw[slot], inPlace: buffers.rawPageAligned }, done: buffers.read, slot });
  };
  const chunkRaw = (values: StoredValues, slot: number) => {
    if (!reader || reportOf(reader, buffers.read, slot) === 2) readSegments(readRange, layouts[slot], buffers.raw[slot], false);
    return { dtype: values.dtype, bytes: buffers.raw[slot], segments: layouts[slot] };
  };

  try {
    readChunkAhead(0, 0);
    for (let chunkRow = 0, chunk = 0; chunkRow < rows; chunkRow += chunkRows, chunk++) {
      const count = chunkCount(chunkRow);
      const raw = stored && chunkRaw(stored, chunk % 2);
      readChunkAhead(chunkRow + chunkRows, (chunk + 1) % 2);
      if (weights instanceof Float32Array) buffers.weights.set(weights.subarray(chunkRow * cols, (chunkRow + count) * cols));
      Atomics.store(buffers.next, 0, 0);
      quantizers.forEach((helper, slot) => {
        Atomics.store(buffers.done, slot, 0);
        helper.worker.postMessage({ task: { shared: buffers, raw, count, take, cols, bits, blockSize }, done: buffers.done, slot });
      });
      takeRows(widenBf16, quantize, buffers, raw, count, take, cols, bits, blockSize);
      if (quantizers.map((helper, slot) => reportOf(helper, buffers.done, slot)).includes(2)) {
        Atomics.store(buffers.next, 0, 0);
        takeRows(widenBf16, quantize, buffers, raw, count, count, cols, bits, blockSize);
      }
      data.set(buffers.data.subarray(0, count * rowBytes), chunkRow * rowBytes);
      scales.set(buffers.scales.subarray(0, count * blocksPerRow), chunkRow * blocksPerRow);
      onRows?.(chunkRow + count);
    }
  } catch (error) {
    // Helpers may still be reading or quantizing into the shared buffers: start afresh next time.
    stopHelpers();
    throw error;
  }
}
