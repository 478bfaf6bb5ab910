import * as fs from "node:fs";
import { LfmkitError } from "./errors.js";

/**
 * Fills `bytes` from `position` of the file at `path`; `where` names what is read in errors. `inPlace`:
 * `bytes` lies in page-aligned memory (WebAssembly memory) at an offset congruent to `position` modulo
 * 4096, with room around it for the 4096-byte blocks that hold the range; a direct read then lands
 * there instead of passing through the staging buffer (no copy).
 */
export type RangeReader = (path: string, position: number, bytes: Uint8Array, where: string, inPlace?: boolean) => void;

/** Files from this size on are read around the page cache (`createRangeReader`). */
export const DIRECT_READ_MIN_FILE_BYTES = 1 << 30;

/**
 * A `RangeReader` that reads ranges of at least 1 MB of files of at least `minDirectFileBytes` with
 * `O_DIRECT`, through a page-aligned staging buffer, and everything else (all of it, where the file
 * system or the runtime refuses direct I/O) through the page cache; small reads keep the page cache's
 * readahead. A checkpoint is read once per graph build: through the page cache, a read of
 * a file not yet cached there cost 2 ns of kernel CPU per byte on this project's 2-core VM (503 MB/s,
 * all of it system time), a direct one 0.02 ns (2.6 GB/s), and the gigabytes read no longer evict the
 * graph data being written for ORT to map next. Uses nothing outside its arguments and globals:
 * quantization helper threads run it from its source.
 */
export function createRangeReader(files: typeof fs, minDirectFileBytes: number, fail: (message: string, where: string) => Error): RangeReader {
  const ALIGN = 4096;
  const STAGING_BYTES = 8 << 20;
  const MIN_DIRECT_READ_BYTES = 1 << 20;
  const direct = new Map<string, boolean>();
  const failures = new WeakSet<object>();
  const failure = (message: string, where: string): Error => {
    const error = fail(message, where);
    failures.add(error);
    return error;
  };
  let staging: Uint8Array | undefined;

  const readBuffered = (path: string, position: number, bytes: Uint8Array, where: string, done: number): void => {
    const fd = files.openSync(path, "r");
    try {
      while (done < bytes.length) {
        const n = files.readSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), position + done);
        if (n === 0) throw failure("unexpected end of file", where);
        done += n;
      }
    } finally {
      files.closeSync(fd);
    }
  };

  /** Reads through the staging buffer; returns how many bytes are done, short of all when the file system refuses. */
  const readStaged = (fd: number, path: string, position: number, bytes: Uint8Array, where: string): number => {
    let done = 0;
    while (done < bytes.length) {
      const at = position + done;
      const skip = at % ALIGN;
      const want = Math.min(STAGING_BYTES, Math.ceil((skip + bytes.length - done) / ALIGN) * ALIGN);
      let n: number;
      try {
        n = files.readSync(fd, staging!, 0, want, at - skip);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EINVAL") throw error;
        direct.set(path, false);
        return done;
      }
      if (n <= skip) throw failure("unexpected end of file", where);
      const take = Math.min(n - skip, bytes.length - done);
      bytes.set(staging!.subarray(skip, skip + take), done);
      done += take;
    }
    return done;
  };

  /** Reads the blocks around `bytes` straight into its memory; returns how many bytes are done: all, or none when the file system refuses. */
  const readInPlace = (fd: number, path: string, position: number, blocks: Uint8Array, skip: number, length: number): number => {
    for (let done = 0; done < skip + length; ) {
      let n: number;
      try {
        n = files.readSync(fd, blocks, done, blocks.length - done, position - skip + done);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EINVAL") throw error;
        direct.set(path, false);
        return 0;
      }
      if (n === 0) return 0; // past the end: the buffered read reports it
      done += n;
    }
    return length;
  };

  /** Reads what it can directly; returns how many bytes are done, short of all when the file system refuses. */
  const readDirect = (path: string, position: number, bytes: Uint8Array, where: string, inPlace: boolean): number => {
    const skip = position % ALIGN;
    const start = bytes.byteOffset - skip;
    const span = Math.ceil((skip + bytes.length) / ALIGN) * ALIGN;
    const blocks = inPlace && start >= 0 && start % ALIGN === 0 && start + span <= bytes.buffer.byteLength ? new Uint8Array(bytes.buffer, start, span) : undefined;
    let fd: number;
    try {
      // WebAssembly memory is allocated in whole pages, so its start is aligned as O_DIRECT requires.
      if (!blocks) staging ??= new Uint8Array(new WebAssembly.Memory({ initial: STAGING_BYTES / 65536 }).buffer);
      fd = files.openSync(path, files.constants.O_RDONLY | files.constants.O_DIRECT);
    } catch {
      direct.set(path, false);
      return 0;
    }
    try {
      return blocks ? readInPlace(fd, path, position, blocks, skip, bytes.length) : readStaged(fd, path, position, bytes, where);
    } finally {
      files.closeSync(fd);
    }
  };

  return (path, position, bytes, where, inPlace = false) => {
    try {
      let useDirect = direct.get(path);
      if (useDirect === undefined) {
        useDirect = files.constants.O_DIRECT !== undefined && files.statSync(path).size >= minDirectFileBytes;
        direct.set(path, useDirect);
      }
      const done = useDirect && bytes.length >= MIN_DIRECT_READ_BYTES ? readDirect(path, position, bytes, where, inPlace) : 0;
      if (done < bytes.length) readBuffered(path, position, bytes, where, done);
    } catch (error) {
      // The file system's own errors (EIO, a file gone) say neither what nor where: name it.
      throw failures.has(error as object) ? error : failure(error instanceof Error ? error.message : String(error), where);
    }
  };
}

/**
 * `count` bytes of memory shared between threads, page-aligned where the runtime gives WebAssembly
 * memory (then `inPlace` reads into it can skip the staging copy), a plain shared buffer otherwise.
 */
export function sharedReadBuffer(count: number): { readonly bytes: Uint8Array; readonly pageAligned: boolean } {
  const pages = Math.max(1, Math.ceil(count / 65536));
  try {
    return { bytes: new Uint8Array(new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true }).buffer, 0, count), pageAligned: true };
  } catch {
    return { bytes: new Uint8Array(new SharedArrayBuffer(count)), pageAligned: false };
  }
}

/** This thread's `RangeReader`. */
export const readRange = createRangeReader(fs, DIRECT_READ_MIN_FILE_BYTES, (message, where) => new LfmkitError(message, where));

/** Reads `length` bytes at `offset` of `path` into a fresh buffer; `where` names what is read in errors. */
export function readFileRange(path: string, offset: number, length: number, where: string): Uint8Array {
  return readFileRangeInto(path, offset, new Uint8Array(new ArrayBuffer(length)), where);
}

/** Fills `bytes` from `offset` of `path` and returns it; `where` names what is read in errors. */
export function readFileRangeInto(path: string, offset: number, bytes: Uint8Array, where: string): Uint8Array {
  readRange(path, offset, bytes, where);
  return bytes;
}
