import * as fs from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { createRangeReader, sharedReadBuffer } from "../src/file-range.js";
import { directIoFiles, pattern } from "./direct-io-files.js";

const fail = (message: string, where: string) => new Error(`${where}: ${message}`);
const MB = 1 << 20;

/** Ranges of a 20 MB + 123 byte file: small and large, unaligned at either end, longer than the 8 MB staging buffer, up to the end. */
const SIZE = 20 * MB + 123;
const RANGES = [
  [0, 1],
  [4095, 2],
  [0, MB],
  [12345, 9 * MB],
  [SIZE - 5000, 5000],
  [SIZE - 3 * MB, 3 * MB],
  [0, SIZE],
] as const;

const DIRECT_IO_CASES: [string, { shortReads?: boolean; refuseAfter?: number }][] = [
  ["whole reads", {}],
  ["short reads", { shortReads: true }],
  ["direct I/O refused after a few reads, mid-range", { shortReads: true, refuseAfter: 5 }],
];

function expectRanges(read: ReturnType<typeof createRangeReader>, contents: Uint8Array, path = "data.bin"): void {
  for (const [position, length] of RANGES) {
    const bytes = new Uint8Array(length);
    read(path, position, bytes, "data.bin");
    expect(Buffer.from(bytes).equals(Buffer.from(contents.subarray(position, position + length)))).toBe(true);
  }
}

test.each(DIRECT_IO_CASES)("direct reads keep to whole blocks and return the file's bytes at any offset and length (%s)", (_, options) => {
  const contents = pattern(SIZE);
  const { files, counts } = directIoFiles(contents, options);
  expectRanges(createRangeReader(files, 0, fail), contents);
  expect(counts.directReads).toBeGreaterThan(0);
});

test.each(DIRECT_IO_CASES)("in-place reads land in page-aligned memory without the staging buffer, and anywhere else through it (%s)", (_, options) => {
  const contents = pattern(SIZE);
  const { files, counts } = directIoFiles(contents, options);
  const read = createRangeReader(files, 0, fail);
  const { bytes: memory, pageAligned } = sharedReadBuffer(SIZE + 3 * 4096);
  expect(pageAligned).toBe(true);
  for (const [position, length] of RANGES) {
    for (const at of [4096 + (position % 4096), 4096 + ((position + 2) % 4096)]) {
      memory.fill(0);
      read("data.bin", position, memory.subarray(at, at + length), "data.bin", true);
      expect(Buffer.from(memory.subarray(at, at + length)).equals(Buffer.from(contents.subarray(position, position + length)))).toBe(true);
    }
  }
  expect(counts.directInto.has(memory.buffer)).toBe(true);
  // Misplaced ranges went through the staging buffer, unless direct I/O was refused before them.
  expect(counts.directInto.size).toBe(options.refuseAfter === undefined ? 2 : 1);
});

test("a real file reads the same directly (where its file system allows) as through the page cache", () => {
  const contents = pattern(SIZE);
  const path = join(scratchDir("range"), "data.bin");
  fs.writeFileSync(path, contents);
  for (const minDirectFileBytes of [0, Infinity]) expectRanges(createRangeReader(fs, minDirectFileBytes, fail), contents, path);
});

test("a read past the end of the file is an error that names what was read, by either path", () => {
  const contents = pattern(SIZE);
  for (const minDirectFileBytes of [0, Infinity]) {
    const read = createRangeReader(directIoFiles(contents).files, minDirectFileBytes, fail);
    expect(() => read("data.bin", SIZE - 10, new Uint8Array(20), "tensor w")).toThrow("tensor w: unexpected end of file");
    expect(() => read("data.bin", SIZE - MB, new Uint8Array(2 * MB), "tensor w")).toThrow("tensor w: unexpected end of file");
  }
});

test("the file system's own errors name what was read, by either path", () => {
  const { files } = directIoFiles(pattern(SIZE));
  const failing = {
    ...files,
    readSync: () => {
      throw Object.assign(new Error("EIO: i/o error, read"), { code: "EIO" });
    },
  } as unknown as typeof fs;
  for (const minDirectFileBytes of [0, Infinity]) {
    const read = createRangeReader(failing, minDirectFileBytes, fail);
    expect(() => read("data.bin", 0, new Uint8Array(2 * MB), "tensor w")).toThrow("tensor w: EIO: i/o error, read");
  }
});
