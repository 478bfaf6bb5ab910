import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { BackgroundFileWriter } from "../src/onnx/background-writer.js";

test("pieces written at increasing offsets, gaps between them, make the file and its sha256", () => {
  const path = join(scratchDir("writer"), "data.bin");
  const writer = new BackgroundFileWriter(path);
  const expected = new Uint8Array(40_000_123);
  let offset = 0;
  // Larger and smaller than one slot, more pieces than slots, each after a gap.
  for (const length of [1000, 20_000_000, 5000, 9_000_000, 7, 10_000_000]) {
    offset += 4096 - (offset % 4096);
    const piece = Uint8Array.from({ length }, (_, i) => (i * 31 + length) & 255);
    writer.write(piece, offset);
    piece.fill(0); // the writer keeps its own copy: the caller may reuse its buffer at once
    expected.set(Uint8Array.from({ length }, (_, i) => (i * 31 + length) & 255), offset);
    offset += length;
  }
  const digest = writer.finish();
  const written = readFileSync(path);
  expect(written.length).toBe(offset);
  expect(written.equals(Buffer.from(expected.subarray(0, offset)))).toBe(true);
  expect(digest).toEqual({ size: offset, sha256: createHash("sha256").update(written).digest("hex") });
});

test("a file that cannot be written is an error that names it, also once more is queued than the slots hold", () => {
  for (const bytes of [10, 40 << 20]) {
    const path = join(scratchDir("writer"), "missing", "data.bin");
    const writer = new BackgroundFileWriter(path);
    expect(() => {
      writer.write(new Uint8Array(bytes), 0);
      writer.finish();
    }).toThrow(new RegExp(`^${path}: could not write the graph data \\(ENOENT.*\\)$`));
  }
});

test("a discarded writer takes nothing more", () => {
  const path = join(scratchDir("writer"), "data.bin");
  const writer = new BackgroundFileWriter(path);
  writer.write(new Uint8Array(1000), 0);
  writer.discard();
  expect(() => writer.write(new Uint8Array(1000), 4096)).toThrow(`${path}: the graph data writer was discarded`);
  expect(() => writer.finish()).toThrow(`${path}: the graph data writer was discarded`);
});
