/**
 * `quantizeRows` on helper threads as well as this one, for large matrices. A graph build is
 * synchronous, so this thread and the helpers take the rows of a chunk in shared memory a few at a
 * time from one counter (so a thread on a busier core simply takes fewer), then this thread blocks
 * (`Atomics.wait`) until each helper is done; the codes and scales are copied out, and the next chunk
 * follows. A chunk is filled by copying from the values in memory or, for a
 * weight stored in a file (`StoredValues`), by each thread reading and widening its own rows there.
 * The shared buffers are bounded by the chunk, not the matrix: a helper holds every shared buffer it
 * was sent until its own garbage collection, which a barely allocating thread does not run, so
 * buffers sent per call piled up there. Helpers are started on first use, one per core beyond this
 * one, and stopped with the buffers as soon as this thread is idle again (after the build).
 */
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { widenBf16InPlace } from "./dtype.js";
import { createRangeReader, DIRECT_READ_MIN_FILE_BYTES, readRange } from "./file-range.js";
import { code, encodeBlock4, encodeBlock8, quantizeRows, readStoredRows, takeRows } from "./quantize-kernels.js";
import type { StoredValues } from "./weights.js";

/** Below this many values a matrix is quantized here alone: a helper's round trip costs more than it saves. */
const MIN_SHARED_VALUES = 1 << 20;
/** Values per chunk of rows sent to the helpers (32 MB of weights). */
const CHUNK_VALUES = 1 << 23;
/** Values per take from a chunk's row counter. */
const TAKE_VALUES = 1 << 16;
/** Values per take when each thread reads its own rows from the file (2 MB of bf16): direct reads of 128 KB ran at 1.0 GB/s with `dd` here, of 1–4 MB at 1.8–2.0. */
const STORED_TAKE_VALUES = 1 << 20;
/** How long the first use waits for helpers to start (a worker takes ~50 ms to boot); later uses take those ready. */
const START_WAIT_MS = 1000;

interface Helper {
  readonly worker: Worker;
  /** [0]: 1 once the helper listens for work. */
  readonly ready: Int32Array;
}

/** The shared chunk buffers. */
interface Shared {
  readonly weights: Float32Array;
  readonly data: Uint8Array;
  readonly scales: Float32Array;
  /** [slot] becomes 1 when a helper is done, 2 when it failed (this thread then redoes the chunk, so an error surfaces here). */
  readonly done: Int32Array;
  /** [0]: the next row of the chunk to take. */
  readonly next: Int32Array;
}

const HELPER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
${code}
${encodeBlock4}
${encodeBlock8}
${quantizeRows}
${widenBf16InPlace}
${readStoredRows}
${takeRows}
${createRangeReader}
const readRange = createRangeReader(require("node:fs"), ${DIRECT_READ_MIN_FILE_BYTES}, (message, where) => new Error(where + ": " + message));
parentPort.on("message", ({ shared, stored, chunkRow, count, take, cols, bits, blockSize, slot }) => {
  let state = 1;
  try {
    takeRows(readRange, widenBf16InPlace, shared, stored, chunkRow, count, take, cols, bits, blockSize);
  } catch {
    state = 2;
  }
  Atomics.store(shared.done, slot, state);
  Atomics.notify(shared.done, slot);
});
Atomics.store(workerData.ready, 0, 1);
Atomics.notify(workerData.ready, 0);
`;

let helpers: Helper[] | undefined;
let shared: Shared | undefined;
let stopping: NodeJS.Timeout | undefined;

function startHelpers(): Helper[] {
  const started = Array.from({ length: availableParallelism() - 1 }, () => {
    const ready = new Int32Array(new SharedArrayBuffer(4));
    const worker = new Worker(HELPER_SOURCE, { eval: true, workerData: { ready } });
    worker.on("error", () => Atomics.store(ready, 0, 0));
    worker.unref();
    return { worker, ready };
  });
  for (const helper of started) Atomics.wait(helper.ready, 0, 0, START_WAIT_MS);
  return started;
}

function stopHelpers(): void {
  for (const helper of helpers ?? []) void helper.worker.terminate();
  helpers = undefined;
  shared = undefined;
}

/** Buffers for chunks of `values` weights quantized to `bytes` of codes and `blocks` scales. */
function sharedBuffers(values: number, bytes: number, blocks: number, slots: number): Shared {
  if (shared && shared.weights.length >= values && shared.data.length >= bytes && shared.scales.length >= blocks && shared.done.length >= slots) return shared;
  return {
    weights: new Float32Array(new SharedArrayBuffer(4 * values)),
    data: new Uint8Array(new SharedArrayBuffer(bytes)),
    scales: new Float32Array(new SharedArrayBuffer(4 * blocks)),
    done: new Int32Array(new SharedArrayBuffer(4 * slots)),
    next: new Int32Array(new SharedArrayBuffer(4)),
  };
}

/**
 * `quantizeRows` over all `rows` of a matrix, shared with the helpers that are ready: `weights` in
 * memory, or `stored` in a file (read here only when no helper is ready, into `scratch`).
 */
export function quantizeRowsOnThreads(
  weights: Float32Array | { readonly stored: StoredValues; readonly scratch: () => Float32Array },
  cols: number,
  bits: number,
  blockSize: number,
  data: Uint8Array,
  scales: Float32Array,
  rows: number,
): void {
  const whole = (): Float32Array => {
    if (weights instanceof Float32Array) return weights;
    const values = weights.scratch().subarray(0, rows * cols);
    readStoredRows(readRange, widenBf16InPlace, weights.stored, 0, rows, cols, values);
    return values;
  };
  if (rows * cols < MIN_SHARED_VALUES) return quantizeRows(whole(), cols, bits, blockSize, data, scales, 0, rows);
  helpers ??= startHelpers();
  clearTimeout(stopping);
  stopping = setTimeout(stopHelpers).unref();
  const ready = helpers.filter((helper) => Atomics.load(helper.ready, 0) === 1);
  if (ready.length === 0) return quantizeRows(whole(), cols, bits, blockSize, data, scales, 0, rows);

  const stored = weights instanceof Float32Array ? undefined : weights.stored;
  const blocksPerRow = Math.ceil(cols / blockSize);
  const rowBytes = (blocksPerRow * blockSize * bits) / 8;
  const chunkRows = Math.max(1, Math.floor(CHUNK_VALUES / cols));
  const buffers = (shared = sharedBuffers(chunkRows * cols, chunkRows * rowBytes, chunkRows * blocksPerRow, ready.length));
  for (let chunkRow = 0; chunkRow < rows; chunkRow += chunkRows) {
    const count = Math.min(chunkRows, rows - chunkRow);
    // Values in memory are all copied in before any helper starts; stored ones each thread reads itself.
    if (weights instanceof Float32Array) buffers.weights.set(weights.subarray(chunkRow * cols, (chunkRow + count) * cols));
    // Stored takes are large for the disk's sake, but never so large that a chunk has fewer than two per thread.
    const storedTake = Math.min(Math.floor(STORED_TAKE_VALUES / cols), Math.ceil(count / (2 * (ready.length + 1))));
    const take = Math.max(1, stored ? storedTake : Math.floor(TAKE_VALUES / cols));
    Atomics.store(buffers.next, 0, 0);
    ready.forEach((helper, slot) => {
      Atomics.store(buffers.done, slot, 0);
      helper.worker.postMessage({ shared: buffers, stored, chunkRow, count, take, cols, bits, blockSize, slot });
    });
    takeRows(readRange, widenBf16InPlace, buffers, stored, chunkRow, count, take, cols, bits, blockSize);
    let failed = false;
    ready.forEach((_, slot) => {
      while (Atomics.load(buffers.done, slot) === 0) Atomics.wait(buffers.done, slot, 0);
      failed ||= Atomics.load(buffers.done, slot) === 2;
    });
    if (failed) {
      Atomics.store(buffers.next, 0, 0);
      takeRows(readRange, widenBf16InPlace, buffers, stored, chunkRow, count, count, cols, bits, blockSize);
    }
    data.set(buffers.data.subarray(0, count * rowBytes), chunkRow * rowBytes);
    scales.set(buffers.scales.subarray(0, count * blocksPerRow), chunkRow * blocksPerRow);
  }
}
