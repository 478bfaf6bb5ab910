import * as fs from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { createRangeReader } from "../src/file-range.js";

const fail = (message: string, where: string) => new Error(`${where}: ${message}`);

/** A file of 20 MB + 123 bytes (past the 8 MB staging buffer twice, ending off a page) with position-dependent bytes. */
function patternFile(): { path: string; contents: Uint8Array } {
  const contents = Uint8Array.from({ length: (20 << 20) + 123 }, (_, i) => (i * 2654435761) >>> 24);
  const path = join(scratchDir("range"), "data.bin");
  fs.writeFileSync(path, contents);
  return { path, contents };
}

test("direct and buffered reads return the file's bytes at any offset and length", () => {
  const { path, contents } = patternFile();
  const opened: number[] = [];
  const spied = { ...fs, openSync: (file: fs.PathLike, flags: fs.OpenMode) => (opened.push(typeof flags === "number" ? flags : 0), fs.openSync(file, flags)) } as typeof fs;
  const direct = createRangeReader(spied, 0, fail);
  const buffered = createRangeReader(fs, Infinity, fail);
  const ranges = [
    [0, 1],
    [4095, 2],
    [4096, 4096],
    [12345, 9 << 20], // unaligned at both ends, longer than one staging buffer
    [contents.length - 5000, 5000], // up to the last byte, past the last whole page
    [0, contents.length],
  ];
  for (const [position, length] of ranges) {
    for (const read of [direct, buffered]) {
      const bytes = new Uint8Array(length);
      read(path, position, bytes, "data.bin");
      expect(Buffer.from(bytes).equals(Buffer.from(contents.subarray(position, position + length)))).toBe(true);
    }
  }
  // Where the file system supports it, the direct reader opened the file for direct I/O.
  if (fs.constants.O_DIRECT !== undefined) expect(opened.some((flags) => (flags & fs.constants.O_DIRECT) !== 0)).toBe(true);
});

test("a read past the end of the file is an error that names what was read, by either path", () => {
  const { path, contents } = patternFile();
  for (const minDirectBytes of [0, Infinity]) {
    const read = createRangeReader(fs, minDirectBytes, fail);
    expect(() => read(path, contents.length - 10, new Uint8Array(20), "tensor w")).toThrow("tensor w: unexpected end of file");
  }
});
