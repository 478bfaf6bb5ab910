import { statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";
import { Checkpoint, GraphBuilder, ops, quantizeBlockwise, quantizeWeight, writeSafetensors } from "../src/index.js";
import { widenBf16 } from "../src/dtype.js";
import { createRangeReader, sharedReadBuffer } from "../src/file-range.js";
import { quantizeRows, readSegments, storedSegments } from "../src/quantize-kernels.js";
import { directIoFiles, pattern } from "./direct-io-files.js";

test.each([
  [4, 128],
  [8, 64],
  [4, 32],
  [8, 32],
] as const)("%i-bit blocks of %i: a matrix split across threads and chunks gets the blocks of one pass", (bits, blockSize) => {
  // Over one chunk of rows (8M values), rows not a multiple of the thread count, a partial last block.
  const [rows, cols] = [12001, 700];
  const weights = new Float32Array(rows * cols);
  const specials = [0, -0, NaN, Infinity, -Infinity, 1e-45, 0.5, -0.5];
  for (let i = 0; i < weights.length; i++) weights[i] = i % 997 === 0 ? specials[i % specials.length] : Math.sin(i * 0.37) * (1 + (i % 5));
  const threaded = quantizeBlockwise(weights, rows, cols, bits, blockSize);
  const data = new Uint8Array(threaded.data.length);
  const scales = new Float32Array(threaded.scales.length);
  quantizeRows(weights, cols, bits, blockSize, data, scales, 0, rows);
  expect(Buffer.from(threaded.data).equals(Buffer.from(data))).toBe(true);
  expect(Buffer.from(new Uint8Array(threaded.scales.buffer)).equals(Buffer.from(new Uint8Array(scales.buffer)))).toBe(true);
});

test.each(["BF16", "F32"] as const)("a %s weight read from its file by every thread gets the blocks of the values read whole", (dtype) => {
  const [rows, cols] = [12001, 700]; // two chunks of rows; an odd count of values per thread's share
  const path = join(scratchDir("stored"), "model.safetensors");
  const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 5)));
  const bytes = dtype === "F32" ? new Uint8Array(values.buffer) : new Uint8Array(Uint16Array.from(new Uint32Array(values.buffer), (bits) => bits >>> 16).buffer);
  writeSafetensors(path, [{ name: "w", dtype, shape: [rows, cols], bytes: () => bytes }]);
  const checkpoint = Checkpoint.openFile(path);
  const source = checkpoint.source("w")!;
  expect(source.stored).toBeDefined();
  for (const grid of [{ bits: 4, blockSize: 128 }, { bits: 8, blockSize: 64 }] as const) {
    const streamed = quantizeWeight(source, grid, { scratch: (count) => new Float32Array(count) });
    const whole = quantizeBlockwise(checkpoint.readF32("w"), rows, cols, grid.bits, grid.blockSize);
    expect(Buffer.from(streamed.data).equals(Buffer.from(whole.data))).toBe(true);
    expect(Buffer.from(new Uint8Array(streamed.scales.buffer)).equals(Buffer.from(new Uint8Array(whole.scales.buffer)))).toBe(true);
  }
});

test("a weight stacked from runs of rows in two files gets the blocks of its values read whole", () => {
  // Runs of 2500 and 9501 rows: a take crosses from one run (and file) into the other, and a chunk ends in the second.
  const cols = 700;
  const parts = [2500, 9501].map((rows, k) => {
    const path = join(scratchDir("runs"), "model.safetensors");
    const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.cos(i * 0.11 + k) * (1 + (i % 7)));
    const bytes = new Uint8Array(Uint16Array.from(new Uint32Array(values.buffer), (bits) => bits >>> 16).buffer);
    writeSafetensors(path, [{ name: "pad", dtype: "BF16", shape: [3], bytes: () => new Uint8Array(6) }, { name: "w", dtype: "BF16", shape: [rows, cols], bytes: () => bytes }]);
    return Checkpoint.openFile(path).source("w")!;
  });
  const rows = parts[0].shape[0] + parts[1].shape[0];
  const stacked = new Float32Array(rows * cols);
  stacked.set(parts[0].read());
  stacked.set(parts[1].read(), parts[0].shape[0] * cols);
  const source = {
    name: "stacked",
    shape: [rows, cols],
    read: () => stacked,
    stored: { dtype: "BF16" as const, runs: parts.flatMap((part) => part.stored!.runs) },
  };
  for (const grid of [{ bits: 4, blockSize: 128 }, { bits: 8, blockSize: 64 }] as const) {
    const streamed = quantizeWeight(source, grid, { scratch: (count) => new Float32Array(count) });
    const whole = quantizeBlockwise(stacked, rows, cols, grid.bits, grid.blockSize);
    expect(Buffer.from(streamed.data).equals(Buffer.from(whole.data))).toBe(true);
    expect(Buffer.from(new Uint8Array(streamed.scales.buffer)).equals(Buffer.from(new Uint8Array(whole.scales.buffer)))).toBe(true);
  }
});

test("a stored weight whose file was cut short after opening fails with the file named, and the next weight quantizes", () => {
  const [rows, cols] = [12001, 700];
  const path = join(scratchDir("cut"), "model.safetensors");
  const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.29));
  writeSafetensors(path, [{ name: "w", dtype: "F32", shape: [rows, cols], bytes: () => new Uint8Array(values.buffer) }]);
  const checkpoint = Checkpoint.openFile(path);
  const source = checkpoint.source("w")!;
  const whole = quantizeBlockwise(checkpoint.readF32("w"), rows, cols, 4, 128);
  truncateSync(path, statSync(path).size - 4 * cols * 100); // the second chunk's rows run past the end
  expect(() => quantizeWeight(source, { bits: 4, blockSize: 128 }, { scratch: (count) => new Float32Array(count) })).toThrow(`${path}: unexpected end of file`);
  writeSafetensors(path, [{ name: "w", dtype: "F32", shape: [rows, cols], bytes: () => new Uint8Array(values.buffer) }]);
  const again = quantizeWeight(Checkpoint.openFile(path).source("w")!, { bits: 4, blockSize: 128 }, { scratch: (count) => new Float32Array(count) });
  expect(Buffer.from(again.data).equals(Buffer.from(whole.data))).toBe(true);
});

test.each(["q4", "q8"] as const)("%s: weights quantized together get the initializers each gets alone, in the same order", (format) => {
  // Four [3000, 700] weights: over one chunk of rows in all, so one weight's rows end in the next chunk.
  const [rows, cols] = [3000, 700];
  const path = join(scratchDir("together"), "model.safetensors");
  const tensors = Array.from({ length: 4 }, (_, e) => {
    const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.13 + e) * (1 + ((i + e) % 9)));
    return { name: `e${e}`, dtype: "BF16" as const, shape: [rows, cols], bytes: () => new Uint8Array(Uint16Array.from(new Uint32Array(values.buffer), (bits) => bits >>> 16).buffer) };
  });
  writeSafetensors(path, [{ name: "pad", dtype: "BF16", shape: [5], bytes: () => new Uint8Array(10) }, ...tensors]);
  const checkpoint = Checkpoint.openFile(path);
  const specs = tensors.map((tensor) => ({ weight: checkpoint.source(tensor.name)!, format }));
  const build = (together: boolean) => {
    const dir = scratchDir("together-graph");
    const g = new GraphBuilder(join(dir, "g.data"), "g.data");
    if (together) ops.quantizeTogether(g, specs);
    for (const spec of specs) ops.quantizedWeight(g, spec);
    const model = Buffer.from(g.finish("g"));
    return { model, data: g.fileDigests().get("g.data") };
  };
  const [alone, together] = [build(false), build(true)];
  expect(together.data).toEqual(alone.data);
  expect(together.model.equals(alone.model)).toBe(true);
});

test.each([1, 4096])("rows from runs at unrelated file offsets, laid out %i-aligned and read (directly, when page-aligned), each keep their own bytes", (align) => {
  const contents = pattern(20 << 20);
  const { files, counts } = directIoFiles(contents);
  // 1000 BF16 columns: rows of 2000 bytes; every run over 1 MB, so it is read directly, from offsets of unlike remainders.
  const [cols, rowBytes] = [1000, 2000];
  // The second run starts 22 bytes into the page where the first one ends (remainders 4068 and 4090).
  const offsets = [100, 7_000_058, 3_333_333, 12_000_000, 12_000_000 + 600 * rowBytes];
  const stored = { dtype: "BF16" as const, runs: offsets.map((offset) => ({ file: "data.bin", offset, rows: 600 })) };
  const [firstRow, count] = [200, 2700];
  const { segments, bytes } = storedSegments(stored, firstRow, count, cols, align);
  expect(segments.map((segment) => segment.rows)).toEqual([400, 600, 600, 600, 500]);
  const memory = sharedReadBuffer(bytes + 4096).bytes;
  readSegments(createRangeReader(files, 0, (message, where) => new Error(`${where}: ${message}`)), segments, memory, align === 4096);
  let row = 0;
  for (const [k, segment] of segments.entries()) {
    expect(segment.row).toBe(row);
    expect(segment.length).toBe(segment.rows * rowBytes);
    if (k > 0) expect(segment.at).toBeGreaterThanOrEqual(segments[k - 1].at + segments[k - 1].length);
    expect(segment.at % align).toBe(segment.position % align);
    expect(Buffer.from(memory.subarray(segment.at, segment.at + segment.length)).equals(Buffer.from(contents.subarray(segment.position, segment.position + segment.length)))).toBe(true);
    row += segment.rows;
  }
  expect(counts.directInto.has(memory.buffer)).toBe(align === 4096);
});

describe("a weight in a checkpoint of over 1 GiB, read ahead by the reader thread (directly, where the file system allows)", () => {
  const [rows, cols] = [12001, 1408]; // three chunks of rows; whole blocks of 128 and 64 values, so the SIMD loops run
  const grids = [
    { bits: 4, blockSize: 128 },
    { bits: 8, blockSize: 64 },
  ] as const;
  const options = { scratch: (count: number) => new Float32Array(count) };
  const values = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.23) * (1 + (i % 11)));
  const bf16 = new Uint8Array(Uint16Array.from(new Uint32Array(values.buffer), (bits) => bits >>> 16).buffer);
  const wanted = grids.map((grid) => quantizeBlockwise(widenBf16(bf16, new Float32Array(rows * cols)), rows, cols, grid.bits, grid.blockSize));

  /** "w", then a 1 GiB "pad" left as a hole in the file: over the size from which checkpoints are read directly. */
  function largeCheckpoint(): { path: string; checkpoint: Checkpoint } {
    const path = join(scratchDir("large"), "model.safetensors");
    const header = Buffer.from(JSON.stringify({ w: { dtype: "BF16", shape: [rows, cols], data_offsets: [0, bf16.length] }, pad: { dtype: "BF16", shape: [1 << 29], data_offsets: [bf16.length, bf16.length + 2 ** 30] } }));
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(header.length));
    writeFileSync(path, Buffer.concat([length, header, bf16]));
    truncateSync(path, 8 + header.length + bf16.length + 2 ** 30);
    return { path, checkpoint: Checkpoint.openFile(path) };
  }

  const expectBlocks = (got: { data: Uint8Array; scales: Float32Array }, want: { data: Uint8Array; scales: Float32Array }) => {
    expect(Buffer.from(got.data).equals(Buffer.from(want.data))).toBe(true);
    expect(Buffer.from(got.scales.buffer, got.scales.byteOffset, got.scales.byteLength).equals(Buffer.from(want.scales.buffer))).toBe(true);
  };

  test("gets the blocks of its values read whole", () => {
    const source = largeCheckpoint().checkpoint.source("w")!;
    grids.forEach((grid, k) => expectBlocks(quantizeWeight(source, grid, options), wanted[k]));
  });

  test("a progress callback that throws stops it, with the next chunk read ahead, and the next weight quantizes right", () => {
    const source = largeCheckpoint().checkpoint.source("w")!;
    const stop = () => {
      throw new Error("stopped by the caller");
    };
    expect(() => quantizeWeight(source, grids[0], { ...options, progress: stop })).toThrow("stopped by the caller");
    grids.forEach((grid, k) => expectBlocks(quantizeWeight(source, grid, options), wanted[k]));
  });

  test("a file cut short in a middle chunk fails with the file named, and the next weight quantizes right", () => {
    const { path, checkpoint } = largeCheckpoint();
    truncateSync(path, statSync(path).size - 2 ** 30 - bf16.length / 2); // rows from the middle of the second chunk on are gone
    expect(() => quantizeWeight(checkpoint.source("w")!, grids[1], options)).toThrow(`${path}: unexpected end of file`);
    grids.forEach((grid, k) => expectBlocks(quantizeWeight(largeCheckpoint().checkpoint.source("w")!, grid, options), wanted[k]));
  });
});
