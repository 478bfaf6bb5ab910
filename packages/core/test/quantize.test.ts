import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { dequantizeBlocks as dequantize, maxAbsDiff, scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { GraphBuilder, QUANT_BLOCK_SIZE, openSession, ops, ort, quantizeBlockwise, quantizeGgml } from "../src/index.js";
import { dequantizeGgmlBlocks, ggmlBlocksAsMatMulNBits } from "../src/gguf/blocks.js";

for (const bits of [8, 4] as const) for (const level of [0, 4]) {
  test(`MatMulNBits ${bits}-bit level ${level} equals the dequantized matmul`, async () => {
    const cols = 300; // several blocks at either block size, the last one partial
    const { got, want, x, dq, rows } = await quantizedProduct(bits, level, 48, cols, 3);
    const scale = Math.max(...want.map(Math.abs));
    // Level 0 computes with the stored weights exactly. Level 4 also rounds each block of activations
    // to int8 (step max|x|/127 over the block), so an output may move by at most Σ|w|·step/2.
    const block = QUANT_BLOCK_SIZE[bits];
    for (let i = 0; i < want.length; i++) {
      const [t, r] = [Math.floor(i / rows), i % rows];
      let bound = 1e-5 * scale;
      if (level === 4) {
        for (let c = 0; c < cols; c++) {
          const first = c - (c % block);
          const step = Math.max(...x.subarray(t * cols + first, t * cols + Math.min(cols, first + block)).map(Math.abs)) / 127;
          bound += (Math.abs(dq[r * cols + c]) * step) / 2;
        }
      }
      expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(bound);
    }
  });
}

test.each([4, 8] as const)("a %i-bit weight of more than 16M values runs as row slices with the same product", async (bits) => {
  const { got, want, graph } = await quantizedProduct(bits, 0, (1 << 24) / 64 + 100, 64, 1);
  expect(graph.has(`w.q${bits}.rows0.data`) && graph.has(`w.q${bits}.rows262144.data`)).toBe(true);
  expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5 * want.reduce((m, x) => Math.max(m, Math.abs(x)), 0));
});

test.each(["Q4_0", "Q8_0"] as const)("%s blocks taken as they are equal the blocks of their dequantized values, and keep any quantizer's codes", (type) => {
  const [rows, cols, bits] = [7, 96, type === "Q8_0" ? 8 : 4] as const;
  const ggml = quantizeGgml(type, Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 5))));
  const requantized = quantizeBlockwise(dequantizeGgmlBlocks(type, ggml), rows, cols, bits, 32);
  const taken = ggmlBlocksAsMatMulNBits(type, ggml, cols);
  expect({ ...taken, data: Buffer.from(taken.data), scales: Array.from(taken.scales) }).toEqual({ ...requantized, data: Buffer.from(requantized.data), scales: Array.from(requantized.scales) });
  // A block whose extreme is not at the extreme code (another quantizer's choice) is kept as written.
  const blockBytes = type === "Q8_0" ? 34 : 18;
  for (let j = 2; j < blockBytes; j++) ggml[j] = type === "Q8_0" ? j % 100 : 0x9a;
  expect(Array.from(dequantize(ggmlBlocksAsMatMulNBits(type, ggml, cols), rows, cols))).toEqual(Array.from(dequantizeGgmlBlocks(type, ggml)));
});

/** ops.linear through ORT against a JS matmul with the dequantized weights, for `tokens` rows of x. */
async function quantizedProduct(bits: 4 | 8, level: number, rows: number, cols: number, tokens: number) {
  const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 1.7) * 0.3);
  const x = Float32Array.from({ length: tokens * cols }, (_, i) => Math.cos(i * 0.3));
  const dir = scratchDir("q");
  const g = new GraphBuilder(join(dir, "g.data"), "g.data");
  const input = g.input("x", "float32", [1, tokens, cols]);
  const y = ops.linear(g, input, { weight: { name: "w", shape: [rows, cols], read: () => w }, format: bits === 8 ? "q8" : "q4", accuracyLevel: level });
  g.output(y, "y", "float32", [1, tokens, rows]);
  writeFileSync(join(dir, "g.onnx"), g.finish("q"));
  const s = await openSession(join(dir, "g.onnx"));
  const got = (await s.run({ x: new ort.Tensor("float32", x, [1, tokens, cols]) })).y.data as Float32Array;
  await s.release();
  const dq = dequantize(quantizeBlockwise(w, rows, cols, bits), rows, cols);
  const want = new Float32Array(tokens * rows);
  for (let t = 0; t < tokens; t++) for (let r = 0; r < rows; r++) { let acc = 0; for (let c = 0; c < cols; c++) acc += x[t * cols + c] * dq[r * cols + c]; want[t * rows + r] = acc; }
  return { got, want, graph: g, x, dq, rows };
}
