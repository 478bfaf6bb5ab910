/** Operators no fixture model exercises yet, against their closed-form definitions. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { maxAbsDiff, scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { GraphBuilder, openSession, ops, ort, type WeightSource } from "../src/index.js";

const D = 8;
const x = Float32Array.from({ length: 3 * D }, (_, i) => Math.sin(i * 1.3) * 2);
const weight = (name: string, values: Float32Array): WeightSource => ({ name, shape: [values.length], read: () => values });

async function run(build: (g: GraphBuilder, input: string) => string): Promise<Float32Array> {
  const dir = scratchDir("ops");
  const g = new GraphBuilder(join(dir, "g.data"), "g.data");
  g.output(build(g, g.input("x", "float32", [1, 3, D])), "y", "float32", [1, 3, D]);
  writeFileSync(join(dir, "g.onnx"), g.finish("ops"));
  const session = await openSession(join(dir, "g.onnx"));
  return (await session.run({ x: new ort.Tensor("float32", x, [1, 3, D]) })).y.data as Float32Array;
}

function rows(f: (row: Float32Array) => number[]): Float32Array {
  return Float32Array.from(Array.from({ length: 3 }, (_, r) => f(x.subarray(r * D, (r + 1) * D))).flat());
}

test("layerNorm: (x - mean) / sqrt(var + eps) · w + b", async () => {
  const w = Float32Array.from({ length: D }, (_, i) => 1 + i / 10);
  const b = Float32Array.from({ length: D }, (_, i) => i / 20);
  const got = await run((g, input) => ops.layerNorm(g, input, weight("w", w), weight("b", b), 1e-5));
  const want = rows((row) => {
    const mean = row.reduce((a, v) => a + v, 0) / D;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
    return Array.from(row, (v, i) => ((v - mean) / Math.sqrt(variance + 1e-5)) * w[i] + b[i]);
  });
  expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5);
});

test("gelu: exact (erf) and tanh approximation", async () => {
  const erf = (z: number) => {
    // Abramowitz–Stegun 7.1.26 is too coarse; integrate the series instead (|z| ≤ 4 here).
    let sum = 0;
    let term = z;
    for (let n = 0; n < 60; n++) {
      sum += term / (2 * n + 1);
      term *= (-z * z) / (n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  };
  const exact = await run((g, input) => ops.gelu(g, input));
  expect(maxAbsDiff(exact, Array.from(x, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))))).toBeLessThanOrEqual(1e-5);
  const tanh = await run((g, input) => ops.gelu(g, input, "tanh"));
  const approx = Array.from(x, (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3))));
  expect(maxAbsDiff(tanh, approx)).toBeLessThanOrEqual(1e-5);
});

test.each([false, true])("rope (interleaved: %s) rotates the pairs it names by position · inv_freq", async (interleaved) => {
  const theta = 10000;
  const positions = 8;
  const got = await run((g, input) => {
    const positionIds = g.constant([2, 3, 4]);
    const { cos, sin } = ops.rotaryTables(theta, D, positions);
    const rotary = { cos: g.weight("cos", cos, [positions, D / 2]), sin: g.weight("sin", sin, [positions, D / 2]), interleaved };
    return ops.rope(g, input, g.op1("Unsqueeze", [positionIds, g.constant([0])]), rotary);
  });
  const want = Float32Array.from(x);
  for (let r = 0; r < 3; r++) {
    for (let i = 0; i < D / 2; i++) {
      const angle = (r + 2) * theta ** ((-2 * i) / D);
      const [a, b] = interleaved ? [r * D + 2 * i, r * D + 2 * i + 1] : [r * D + i, r * D + i + D / 2];
      want[a] = x[a] * Math.cos(angle) - x[b] * Math.sin(angle);
      want[b] = x[b] * Math.cos(angle) + x[a] * Math.sin(angle);
    }
  }
  expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5);
});
