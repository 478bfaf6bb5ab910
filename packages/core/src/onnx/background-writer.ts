/**
 * Writes a file on a worker thread. A graph build quantizes its weights on every core, but writing
 * and hashing the data file ran on the building thread alone, with the other cores idle: for the
 * LFM2-8B-A1B shape at q4, 4.5 GB took 8 s of a 55 s first load (CPU profile, core README). `write` copies the bytes into one of a
 * few shared slots and returns (waiting only while every slot is still being written); the worker
 * writes each slot at its file offset and feeds the file's sha256, zero gaps included. Slots are
 * reused, so no fresh memory is faulted in per weight.
 */
import { Worker } from "node:worker_threads";
import { LfmkitError } from "../errors.js";
import type { FileDigest } from "./graph.js";

const SLOTS = 4;
const SLOT_BYTES = 8 << 20;
/** Slot states. */
const FREE = 0;
const FILLED = 1;
const FINISH = 2;
/** Worker states: `status[0]`. */
const RUNNING = 0;
const FAILED = 2;
/** How long the worker may take to start (it takes ~50 ms) before the writer gives up on it. */
const START_TIMEOUT_MS = 30_000;

interface SharedState {
  readonly slots: Uint8Array;
  /** Per slot: FREE, FILLED or FINISH. */
  readonly states: Int32Array;
  /** Per slot: byte count and file offset of its contents. */
  readonly lengths: Int32Array;
  readonly offsets: Float64Array;
  /** [0]: RUNNING, DONE or FAILED; [1]: 1 once the worker runs. */
  readonly status: Int32Array;
  /** The sha256 when done; the error message (UTF-8, zero-padded) when failed. */
  readonly result: Uint8Array;
}

interface WriterModules {
  readonly fs: typeof import("node:fs");
  readonly crypto: typeof import("node:crypto");
}

/**
 * The worker's loop. Uses only its arguments: it runs from its source, so the states are written as
 * numbers (slots: 0 FREE, 1 FILLED, 2 FINISH; status: 1 DONE, 2 FAILED). Every failure, loading the
 * modules included, ends in FAILED, since the building thread waits on the status without a timeout.
 */
function writeSlots(shared: SharedState, path: string, load: () => WriterModules): void {
  const [slotCount, slotBytes] = [shared.states.length, shared.slots.length / shared.states.length];
  let fd: number | undefined;
  let fs: WriterModules["fs"] | undefined;
  try {
    const modules = load();
    fs = modules.fs;
    const crypto = modules.crypto;
    fd = fs.openSync(path, "w");
    const hash = crypto.createHash("sha256");
    let end = 0;
    for (let slot = 0; ; slot = (slot + 1) % slotCount) {
      Atomics.wait(shared.states, slot, 0);
      if (Atomics.load(shared.states, slot) === 2) break;
      const offset = shared.offsets[slot];
      const bytes = shared.slots.subarray(slot * slotBytes, slot * slotBytes + shared.lengths[slot]);
      if (offset > end) hash.update(new Uint8Array(offset - end));
      hash.update(bytes);
      for (let written = 0; written < bytes.length; ) written += fs.writeSync(fd, bytes, written, bytes.length - written, offset + written);
      end = offset + bytes.length;
      Atomics.store(shared.states, slot, 0);
      Atomics.notify(shared.states, slot);
    }
    const written = fd;
    fd = undefined;
    fs.closeSync(written);
    shared.result.set(hash.digest());
    Atomics.store(shared.status, 0, 1);
  } catch (error) {
    try {
      if (fs && fd !== undefined) fs.closeSync(fd);
    } catch {
      // The first error is the one to report.
    }
    const message = error instanceof Error ? error.message : String(error);
    shared.result.set(new TextEncoder().encode(message).subarray(0, shared.result.length));
    Atomics.store(shared.status, 0, 2);
    for (let slot = 0; slot < slotCount; slot++) Atomics.notify(shared.states, slot);
  }
  Atomics.notify(shared.status, 0);
}

const WORKER_SOURCE = `
const { workerData } = require("node:worker_threads");
Atomics.store(workerData.shared.status, 1, 1);
${writeSlots}
writeSlots(workerData.shared, workerData.path, () => ({ fs: require("node:fs"), crypto: require("node:crypto") }));
`;

export class BackgroundFileWriter {
  private readonly shared: SharedState = {
    slots: new Uint8Array(new SharedArrayBuffer(SLOTS * SLOT_BYTES)),
    states: new Int32Array(new SharedArrayBuffer(4 * SLOTS)),
    lengths: new Int32Array(new SharedArrayBuffer(4 * SLOTS)),
    offsets: new Float64Array(new SharedArrayBuffer(8 * SLOTS)),
    status: new Int32Array(new SharedArrayBuffer(8)),
    result: new Uint8Array(new SharedArrayBuffer(1024)),
  };
  private readonly worker: Worker;
  private readonly created = performance.now();
  private slot = 0;
  private size = 0;
  private discarded = false;

  constructor(private readonly path: string) {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { shared: this.shared, path } });
    this.worker.unref();
  }

  /** Queues `bytes` to be written at `offset` (at or past the end of what was queued before). */
  write(bytes: Uint8Array, offset: number): void {
    for (let done = 0; done < bytes.length; ) {
      const length = Math.min(SLOT_BYTES, bytes.length - done);
      this.fill(bytes.subarray(done, done + length), offset + done);
      done += length;
    }
    this.size = Math.max(this.size, offset + bytes.length);
  }

  /** Waits until everything queued is written and the file closed; returns its size and sha256. */
  finish(): FileDigest {
    this.fill(undefined, 0);
    this.waitWhile(this.shared.status, 0, () => Atomics.load(this.shared.status, 0) === RUNNING);
    return { size: this.size, sha256: Buffer.from(this.shared.result.subarray(0, 32)).toString("hex") };
  }

  /** Stops the worker without finishing the file (a build that failed); later calls throw. */
  discard(): void {
    this.discarded = true;
    void this.worker.terminate();
  }

  private fill(bytes: Uint8Array | undefined, offset: number): void {
    const { states } = this.shared;
    const slot = this.slot;
    this.waitWhile(states, slot, () => Atomics.load(states, slot) !== FREE);
    if (bytes) {
      this.shared.slots.set(bytes, slot * SLOT_BYTES);
      this.shared.lengths[slot] = bytes.length;
      this.shared.offsets[slot] = offset;
    }
    Atomics.store(states, slot, bytes ? FILLED : FINISH);
    Atomics.notify(states, slot);
    this.slot = (slot + 1) % SLOTS;
  }

  /**
   * Blocks while `busy()`, woken by the worker's notify on `cells[index]` or each second; throws once
   * the writer was discarded or the worker failed, or when the worker never started (its error event
   * cannot reach a thread blocked here).
   */
  private waitWhile(cells: Int32Array, index: number, busy: () => boolean): void {
    for (;;) {
      if (this.discarded) throw new LfmkitError("the graph data writer was discarded", this.path);
      if (Atomics.load(this.shared.status, 0) === FAILED) {
        const message = new TextDecoder().decode(this.shared.result).replace(/\0+$/, "");
        throw new LfmkitError(`could not write the graph data (${message})`, this.path);
      }
      if (!busy()) return;
      if (Atomics.load(this.shared.status, 1) === 0 && performance.now() - this.created > START_TIMEOUT_MS) {
        throw new LfmkitError(`the thread writing the graph data did not start within ${START_TIMEOUT_MS / 1000} s`, this.path);
      }
      Atomics.wait(cells, index, Atomics.load(cells, index), 1000);
    }
  }
}
