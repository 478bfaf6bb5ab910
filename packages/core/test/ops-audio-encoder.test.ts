/** Operators of the audio encoders, against their closed-form definitions. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { maxAbsDiff, scratchDir } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";
import { GraphBuilder, openSession, ops, ort, type Session, type WeightSource } from "../src/index.js";

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + seed) * 1.5);
const weight = (name: string, data: Float32Array, shape: number[]): WeightSource => ({ name, shape, read: () => data });

describe("relativePositionAttention", () => {
  const [heads, headDim] = [2, 3];
  const width = heads * headDim;
  const contentBias = values(width, 11);
  const positionBias = values(width, 12);

  /** One graph for every batch and sequence length, with or without a padding mask. */
  async function session(masked: boolean): Promise<Session> {
    const dir = scratchDir("ops-audio");
    const g = new GraphBuilder(join(dir, "g.data"), "g.data");
    const [q, k, v] = ["q", "k", "v"].map((name) => g.input(name, "float32", ["batch", "seq", width]));
    const positions = g.input("p", "float32", [1, "positions", width]);
    const spec = {
      heads,
      headDim,
      contentBias: weight("u", contentBias, [heads, headDim]),
      positionBias: weight("v_bias", positionBias, [heads, headDim]),
      mask: masked ? g.input("mask", "int64", ["batch", "seq"]) : undefined,
    };
    g.output(ops.relativePositionAttention(g, q, k, v, positions, spec), "y", "float32", ["batch", "seq", width]);
    writeFileSync(join(dir, "g.onnx"), g.finish("ops"));
    return openSession(join(dir, "g.onnx"));
  }

  /**
   * Per batch b, head h, query i: scores over keys j of ((q_i + u)·k_j + (q_i + v)·p[S−1−(i−j)]) / √hd,
   * padded keys excluded; softmax; · v_j. A padded query's output is 0.
   */
  function closedForm(batch: number, seq: number, q: Float32Array, k: Float32Array, v: Float32Array, p: Float32Array, real: (b: number, s: number) => boolean): Float32Array {
    const at = (x: Float32Array, row: number, h: number, d: number) => x[row * width + h * headDim + d];
    const out = new Float32Array(batch * seq * width);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        for (let i = 0; i < seq; i++) {
          if (!real(b, i)) continue;
          const scores: number[] = [];
          for (let j = 0; j < seq; j++) {
            let score = 0;
            for (let d = 0; d < headDim; d++) {
              const query = at(q, b * seq + i, h, d);
              score += (query + contentBias[h * headDim + d]) * at(k, b * seq + j, h, d);
              score += (query + positionBias[h * headDim + d]) * at(p, seq - 1 - (i - j), h, d);
            }
            scores.push(real(b, j) ? score / Math.sqrt(headDim) : -Infinity);
          }
          const top = Math.max(...scores);
          const weights = scores.map((s) => Math.exp(s - top));
          const total = weights.reduce((a, w) => a + w, 0);
          for (let d = 0; d < headDim; d++) {
            let mixed = 0;
            for (let j = 0; j < seq; j++) mixed += (weights[j] / total) * at(v, b * seq + j, h, d);
            out[(b * seq + i) * width + h * headDim + d] = mixed;
          }
        }
      }
    }
    return out;
  }

  function inputs(batch: number, seq: number) {
    const [q, k, v] = [1, 2, 3].map((seed) => values(batch * seq * width, seed * seq));
    const p = values((2 * seq - 1) * width, 4);
    const feeds: Record<string, ort.Tensor> = {
      q: new ort.Tensor("float32", q, [batch, seq, width]),
      k: new ort.Tensor("float32", k, [batch, seq, width]),
      v: new ort.Tensor("float32", v, [batch, seq, width]),
      p: new ort.Tensor("float32", p, [1, 2 * seq - 1, width]),
    };
    return { q, k, v, p, feeds };
  }

  test.each([1, 2, 5, 7])("scores relative position i − j after the shift (one sequence of %i)", async (seq) => {
    const s = await session(false);
    const { q, k, v, p, feeds } = inputs(1, seq);
    const got = (await s.run(feeds)).y.data as Float32Array;
    expect(maxAbsDiff(got, closedForm(1, seq, q, k, v, p, () => true))).toBeLessThanOrEqual(1e-5);
    await s.release();
  });

  test("a padded batch: padded keys get no weight, padded queries output 0", async () => {
    const [batch, seq] = [3, 6];
    const lengths = [6, 4, 1];
    const real = (b: number, s: number) => s < lengths[b];
    const mask = BigInt64Array.from({ length: batch * seq }, (_, i) => (real(Math.floor(i / seq), i % seq) ? 1n : 0n));
    const s = await session(true);
    const { q, k, v, p, feeds } = inputs(batch, seq);
    const got = (await s.run({ ...feeds, mask: new ort.Tensor("int64", mask, [batch, seq]) })).y.data as Float32Array;
    expect(maxAbsDiff(got, closedForm(batch, seq, q, k, v, p, real))).toBeLessThanOrEqual(1e-5);
    await s.release();
  });
});
