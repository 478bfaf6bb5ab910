import { closeSync, openSync, readSync } from "node:fs";
import { LfmkitError } from "./errors.js";

/** Reads `length` bytes at `offset` of `path` into a fresh buffer; `where` names what is read in errors. */
export function readFileRange(path: string, offset: number, length: number, where: string): Uint8Array {
  return readFileRangeInto(path, offset, new Uint8Array(new ArrayBuffer(length)), where);
}

/** Fills `bytes` from `offset` of `path` and returns it; `where` names what is read in errors. */
export function readFileRangeInto(path: string, offset: number, bytes: Uint8Array, where: string): Uint8Array {
  const length = bytes.byteLength;
  const fd = openSync(path, "r");
  try {
    for (let done = 0; done < length; ) {
      const n = readSync(fd, bytes, done, Math.min(length - done, 1 << 30), offset + done);
      if (n === 0) throw new LfmkitError("unexpected end of file", where);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}
