import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { Checkpoint, quantizeBlockwise, quantizeWeight, writeSafetensors } from "../src/index.js";
import { quantizeRows } from "../src/quantize-kernels.js";

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
    const streamed = quantizeWeight(source, grid, (count) => new Float32Array(count));
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
    const streamed = quantizeWeight(source, grid, (count) => new Float32Array(count));
    const whole = quantizeBlockwise(stacked, rows, cols, grid.bits, grid.blockSize);
    expect(Buffer.from(streamed.data).equals(Buffer.from(whole.data))).toBe(true);
    expect(Buffer.from(new Uint8Array(streamed.scales.buffer)).equals(Buffer.from(new Uint8Array(whole.scales.buffer)))).toBe(true);
  }
});
