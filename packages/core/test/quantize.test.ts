import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { maxAbsDiff, scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { GraphBuilder, openSession, ops, ort, quantizeBlockwise } from "../src/index.js";

/** Independent reading of the MatMulNBits layout: code - 2^(bits-1), times the block scale. */
function dequantize(q: ReturnType<typeof quantizeBlockwise>, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const blob = (q.blockSize * q.bits) / 8;
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) {
      const b = Math.floor(c / q.blockSize), j = c % q.blockSize, base = (r * q.blocksPerRow + b) * blob;
      const code = q.bits === 8 ? q.data[base + j] : (q.data[base + (j >> 1)] >> ((j & 1) * 4)) & 15;
      out[r * cols + c] = (code - (1 << (q.bits - 1))) * q.scales[r * q.blocksPerRow + b];
    }
  return out;
}

for (const bits of [8, 4] as const) for (const level of [0, 4]) {
  test(`MatMulNBits ${bits}-bit level ${level} equals the dequantized matmul`, async () => {
    const rows = 48, cols = 80;
    const w = Float32Array.from({ length: rows * cols }, (_, i) => Math.sin(i * 1.7) * 0.3);
    const x = Float32Array.from({ length: 3 * cols }, (_, i) => Math.cos(i * 0.3));
    const dir = scratchDir("q");
    const g = new GraphBuilder(join(dir, "g.data"), "g.data");
    const input = g.input("x", "float32", [1, 3, cols]);
    const y = ops.linear(g, input, { weight: { name: "w", shape: [rows, cols], read: () => w }, format: bits === 8 ? "q8" : "q4", accuracyLevel: level });
    g.output(y, "y", "float32", [1, 3, rows]);
    writeFileSync(join(dir, "g.onnx"), g.finish("q"));
    const s = await openSession(join(dir, "g.onnx"));
    const got = (await s.run({ x: new ort.Tensor("float32", x, [1, 3, cols]) })).y.data as Float32Array;
    const dq = dequantize(quantizeBlockwise(w, rows, cols, bits), rows, cols);
    const want = new Float32Array(3 * rows);
    for (let t = 0; t < 3; t++) for (let r = 0; r < rows; r++) { let acc = 0; for (let c = 0; c < cols; c++) acc += x[t * cols + c] * dq[r * cols + c]; want[t * rows + r] = acc; }
    const scale = Math.max(...want.map(Math.abs));
    // Level 0 computes with the stored weights exactly; level 4 also rounds activations to int8 per
    // block (step max|x|/127), an error that grows like sqrt(K)/254 of the output scale.
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(level === 0 ? 1e-5 * scale : 3e-2 * scale);
  });
}

for (const format of ["q8", "q4"] as const) {
  test(`QMoE (${format}) equals MoE over the dequantized experts`, async () => {
    const experts = 4, width = 32, hidden = 64, rows = 5;
    const weights = new Map<string, Float32Array>();
    const tensor = (e: number, which: "w1" | "w2" | "w3") => {
      const shape = which === "w2" ? [hidden, width] : [width, hidden];
      const key = `${e}.${which}`;
      if (!weights.has(key)) weights.set(key, Float32Array.from({ length: width * hidden }, (_, i) => Math.sin(i * 0.37 + e * 1.3 + which.length) * 0.2));
      return { name: `experts.${e}.${which}.weight`, shape, read: () => weights.get(key)! };
    };
    const roundTrip = (e: number, which: "w1" | "w2" | "w3") => {
      const t = tensor(e, which);
      const bits = format === "q8" ? 8 : 4;
      return { ...t, read: () => dequantize(quantizeBlockwise(t.read(), t.shape[0], t.shape[1], bits), t.shape[0], t.shape[1]) };
    };
    const outputs: Float32Array[] = [];
    for (const [label, lookup, fmt] of [["quantized", tensor, format], ["dequantized", roundTrip, "f32"]] as const) {
      const dir = scratchDir("moe");
      const g = new GraphBuilder(join(dir, "g.data"), "g.data");
      const x = g.input("x", "float32", [rows, hidden]);
      const router = g.input("router", "float32", [rows, experts]);
      g.output(ops.mixtureOfExperts(g, x, router, ops.expertWeights(g, experts, lookup, fmt), 2), "y", "float32", [rows, hidden]);
      writeFileSync(join(dir, "g.onnx"), g.finish(label));
      const session = await openSession(join(dir, "g.onnx"));
      const out = await session.run({
        x: new ort.Tensor("float32", Float32Array.from({ length: rows * hidden }, (_, i) => Math.cos(i * 0.11)), [rows, hidden]),
        router: new ort.Tensor("float32", Float32Array.from({ length: rows * experts }, (_, i) => Math.sin(i * 2.1)), [rows, experts]),
      });
      outputs.push(out.y.data as Float32Array);
    }
    const scale = Math.max(...outputs[1].map(Math.abs));
    expect(maxAbsDiff(outputs[0], outputs[1])).toBeLessThanOrEqual(1e-5 * scale);
  });
}
