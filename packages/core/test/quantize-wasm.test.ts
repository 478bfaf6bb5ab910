import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { expect, test } from "vitest";
import { quantizeRows, simdQuantizeRows } from "../src/quantize-kernels.js";
import { QUANTIZE_WASM_BASE64 } from "../src/quantize-wasm.js";

test("the shipped module is quantize.wat compiled", () => {
  const script = fileURLToPath(new URL("../scripts/build-wasm.mjs", import.meta.url));
  expect(() => execFileSync(process.execPath, [script, "--check"], { stdio: "pipe" })).not.toThrow();
});

test.each([
  [4, 128],
  [8, 64],
  [4, 32],
  [8, 32],
] as const)("%i-bit blocks of %i: the SIMD loops give quantizeRows's codes and scales, bit for bit", (bits, blockSize) => {
  const fast = simdQuantizeRows(QUANTIZE_WASM_BASE64, quantizeRows);
  expect(fast).not.toBe(quantizeRows); // the module was instantiated
  const [rows, cols] = [700, 1024];
  const weights = new Float32Array(rows * cols);
  const specials = [0, -0, NaN, Infinity, -Infinity, 1e-45, 1e-40, 0.5, -0.5, 3e38, -3e38];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let i = 0; i < weights.length; i++) weights[i] = random() < 0.003 ? specials[i % specials.length] : (random() - 0.5) * (1 + (i % 7));
  // Rows of sixteenths (codes exactly halfway between two), a zero block, a block of equal magnitudes of both signs.
  for (let i = 0; i < 50 * cols; i++) weights[i] = Math.round((random() - 0.5) * 64) / 16;
  weights.fill(0, 60 * cols, 60 * cols + blockSize);
  for (let i = 0; i < blockSize; i++) weights[61 * cols + i] = i % 2 ? 0.25 : -0.25;
  const blocks = (rows * cols) / blockSize;
  const want = { data: new Uint8Array((rows * cols * bits) / 8), scales: new Float32Array(blocks) };
  const got = { data: new Uint8Array(want.data.length), scales: new Float32Array(blocks) };
  quantizeRows(weights, cols, bits, blockSize, want.data, want.scales, 0, rows);
  fast(weights, cols, bits, blockSize, got.data, got.scales, 0, 3); // passes of 64 rows and ranges that start past row 0
  fast(weights, cols, bits, blockSize, got.data, got.scales, 3, rows);
  expect(Buffer.from(got.data).equals(Buffer.from(want.data))).toBe(true);
  expect(Buffer.from(got.scales.buffer).equals(Buffer.from(want.scales.buffer))).toBe(true);
});
