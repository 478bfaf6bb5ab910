/**
 * Reads a cached graph's weight files into the page cache beside ORT opening them. ORT maps the graph
 * data and faults it in a page at a time while it prepacks, on the thread that opens the session (the
 * JS thread stays blocked there, hence a worker): from a cold page cache the 8B-A1B q4 graph took
 * 11.8-26.2 s to open on the 2-core VM (median 13.3 s), and 5.6-13.8 s (median 7.3 s) with one
 * sequential pass of 4 MB reads running ahead of it (one-off loads; the package README has them).
 */
import { Worker } from "node:worker_threads";

const CHUNK_BYTES = 4 << 20;

/**
 * The worker's loop: reads `files` in order into one reused buffer, adding up the bytes in `read[0]`.
 * Uses only its arguments, since it runs from its source. The reads only fill the page cache, so a
 * file that cannot be read ends the pass quietly: ORT meets the same file next and reports it.
 */
function readFiles(files: readonly string[], read: Float64Array, chunkBytes: number, fs: typeof import("node:fs")): void {
  const buffer = new Uint8Array(chunkBytes);
  try {
    for (const file of files) {
      const fd = fs.openSync(file, "r");
      try {
        for (let n = fs.readSync(fd, buffer, 0, chunkBytes, null); n > 0; n = fs.readSync(fd, buffer, 0, chunkBytes, null)) read[0] += n;
      } finally {
        fs.closeSync(fd);
      }
    }
  } catch {
    // See above: an unreadable file is ORT's to report.
  }
}

const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
${readFiles}
readFiles(workerData.files, workerData.read, workerData.chunkBytes, require("node:fs"));
`;

export interface ReadAhead {
  /** Resolves with the bytes read once the pass ends: every file read, one unreadable, or stopped. */
  readonly done: Promise<number>;
  /** Ends the pass where it is (after the read under way); resolves as `done`. */
  stop(): Promise<number>;
}

/** Starts reading `files` start to end on a worker thread; a worker that cannot start reads nothing. */
export function readAhead(files: readonly string[]): ReadAhead {
  const read = new Float64Array(new SharedArrayBuffer(8));
  const idle: ReadAhead = { done: Promise.resolve(0), stop: () => Promise.resolve(0) };
  if (files.length === 0) return idle;
  let worker: Worker;
  try {
    worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { files, read, chunkBytes: CHUNK_BYTES } });
  } catch {
    return idle;
  }
  worker.unref();
  worker.on("error", () => undefined); // Failing to start after construction: as above, and "exit" still follows.
  const done = new Promise<number>((resolve) => worker.once("exit", () => resolve(read[0])));
  return {
    done,
    stop: async () => {
      await worker.terminate();
      return done;
    },
  };
}
