import * as fs from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { createRangeReader } from "../src/file-range.js";

const fail = (message: string, where: string) => new Error(`${where}: ${message}`);
const MB = 1 << 20;

/** Bytes that differ with their position. */
const pattern = (length: number) => Uint8Array.from({ length }, (_, i) => (i * 2654435761) >>> 24);

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

/**
 * `node:fs` over `contents` that behaves as direct I/O does: a file opened with O_DIRECT is read only
 * at offsets and lengths that are whole 4096-byte blocks (EINVAL otherwise), `shortReads` returns at most
 * three blocks per read, and `refuseAfter` answers EINVAL from that many direct reads on.
 */
function directIoFiles(contents: Uint8Array, options: { shortReads?: boolean; refuseAfter?: number } = {}) {
  const O_DIRECT = fs.constants.O_DIRECT ?? 0x4000;
  const direct = new Map<number, boolean>();
  const counts = { directReads: 0 };
  const einval = () => Object.assign(new Error("EINVAL: invalid argument, read"), { code: "EINVAL" });
  const files = {
    constants: { O_RDONLY: 0, O_DIRECT },
    statSync: () => ({ size: contents.length }),
    openSync: (_path: string, flags: number | string) => {
      const fd = direct.size + 10;
      direct.set(fd, typeof flags === "number" && (flags & O_DIRECT) !== 0);
      return fd;
    },
    closeSync: () => undefined,
    readSync: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => {
      let limit = length;
      if (direct.get(fd)) {
        if (position % 4096 !== 0 || length % 4096 !== 0) throw einval();
        if (options.refuseAfter !== undefined && counts.directReads >= options.refuseAfter) throw einval();
        counts.directReads++;
        if (options.shortReads) limit = Math.min(length, 3 * 4096);
      }
      const n = Math.max(0, Math.min(limit, contents.length - position));
      buffer.set(contents.subarray(position, position + n), offset);
      return n;
    },
  };
  return { files: files as unknown as typeof fs, counts };
}

function expectRanges(read: ReturnType<typeof createRangeReader>, contents: Uint8Array, path = "data.bin"): void {
  for (const [position, length] of RANGES) {
    const bytes = new Uint8Array(length);
    read(path, position, bytes, "data.bin");
    expect(Buffer.from(bytes).equals(Buffer.from(contents.subarray(position, position + length)))).toBe(true);
  }
}

test.each([
  ["whole reads", {}],
  ["short reads", { shortReads: true }],
  ["direct I/O refused after a few reads, mid-range", { shortReads: true, refuseAfter: 5 }],
])("direct reads keep to whole blocks and return the file's bytes at any offset and length (%s)", (_, options) => {
  const contents = pattern(SIZE);
  const { files, counts } = directIoFiles(contents, options);
  expectRanges(createRangeReader(files, 0, fail), contents);
  expect(counts.directReads).toBeGreaterThan(0);
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
