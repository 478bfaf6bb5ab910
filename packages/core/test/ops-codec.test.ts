/**
 * The operators neural codecs stream with, against their closed-form definitions: causal and
 * transposed convolutions run chunk by chunk, sliding-window attention with its cache, rotary
 * angles at stream positions, and residual vector quantization.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { maxAbsDiff, scratchDir } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";
import { GraphBuilder, openSession, ops, ort, type WeightSource } from "../src/index.js";

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + seed) * 1.5);
const weight = (name: string, data: Float32Array, shape: number[]): WeightSource => ({ name, shape, read: () => data });
const floats = (data: Float32Array, dims: number[]) => new ort.Tensor("float32", data, dims);
const int64s = (data: readonly number[], dims: number[]) => new ort.Tensor("int64", BigInt64Array.from(data, BigInt), dims);

/** Builds a graph over the given inputs (every dimension symbolic) and runs it once; outputs are float32 unless named in `int64Outputs`. */
async function runGraph(
  inputs: Record<string, ort.Tensor>,
  build: (g: GraphBuilder, x: Record<string, string>) => Record<string, string>,
  int64Outputs: readonly string[] = [],
): Promise<Record<string, ort.Tensor>> {
  const dir = scratchDir("ops-codec");
  const g = new GraphBuilder(join(dir, "g.data"), "g.data");
  const names = Object.fromEntries(
    Object.entries(inputs).map(([name, t]) => [name, g.input(name, t.type as "float32" | "int64", t.dims.map((_, i) => `${name}_${i}`))]),
  );
  for (const [name, value] of Object.entries(build(g, names))) g.output(value, name, int64Outputs.includes(name) ? "int64" : "float32", ["?"]);
  writeFileSync(join(dir, "g.onnx"), g.finish("ops-codec"));
  const session = await openSession(join(dir, "g.onnx"));
  try {
    return await session.run(inputs);
  } finally {
    await session.release();
  }
}

/** The time range [from, to) of a [channels, steps] tensor. */
function timeRange(x: Float32Array, channels: number, from: number, to: number): Float32Array {
  const steps = x.length / channels;
  const out = new Float32Array(channels * (to - from));
  for (let c = 0; c < channels; c++) out.set(x.subarray(c * steps + from, c * steps + to), c * (to - from));
  return out;
}

/** Concatenates [channels, ·] tensors along time. */
function joinTime(parts: Float32Array[], channels: number): Float32Array {
  const steps = parts.map((p) => p.length / channels);
  const total = steps.reduce((a, b) => a + b, 0);
  const out = new Float32Array(channels * total);
  for (let c = 0; c < channels; c++) {
    let at = 0;
    parts.forEach((p, i) => {
      out.set(p.subarray(c * steps[i], (c + 1) * steps[i]), c * total + at);
      at += steps[i];
    });
  }
  return out;
}

describe("streaming convolutions", () => {
  const [inChannels, outChannels, steps] = [3, 4, 12];
  const input = values(inChannels * steps, 1);
  const bias = values(outChannels, 2);

  test.each([
    [3, 1, 1],
    [4, 2, 1],
    [3, 1, 2],
  ])("conv kernel %i stride %i dilation %i: chunks after a zero context equal the left-padded causal conv", async (taps, stride, dilation) => {
    const kernel = values(outChannels * inChannels * taps, 3);
    const contextLength = ops.causalContextLength(taps, stride, dilation);
    // y[o, t] = b[o] + Σ_{i, j} w[o, i, j] · x[i, t·stride + j·dilation − contextLength] (zero before the start).
    const want = new Float32Array((outChannels * steps) / stride);
    for (let o = 0; o < outChannels; o++) {
      for (let t = 0; t < steps / stride; t++) {
        let sum = bias[o];
        for (let i = 0; i < inChannels; i++) {
          for (let j = 0; j < taps; j++) {
            const at = t * stride + j * dilation - contextLength;
            if (at >= 0) sum += kernel[(o * inChannels + i) * taps + j] * input[i * steps + at];
          }
        }
        want[o * (steps / stride) + t] = sum;
      }
    }
    let context: Float32Array = new Float32Array(inChannels * contextLength);
    const outputs: Float32Array[] = [];
    for (const [from, to] of [[0, 4], [4, 6], [6, 12]]) {
      const out = await runGraph({ x: floats(timeRange(input, inChannels, from, to), [1, inChannels, to - from]), context: floats(context, [1, inChannels, contextLength]) }, (g, x) => {
        const result = ops.streamingConv(g, x.x, { weight: weight("w", kernel, [outChannels, inChannels, taps]), bias: weight("b", bias, [outChannels]), strides: [stride], dilations: [dilation], context: x.context });
        return { y: result.output, next: result.context! };
      });
      outputs.push(out.y.data as Float32Array);
      context = out.next.data as Float32Array;
    }
    expect(maxAbsDiff(joinTime(outputs, outChannels), want)).toBeLessThanOrEqual(1e-5);
    expect(Array.from(context)).toEqual(Array.from(timeRange(input, inChannels, steps - contextLength, steps)));
  });

  test("convTranspose stride 2 kernel 5, two groups: chunks carrying their overlap equal the full transposed conv without its tail", async () => {
    const [taps, stride, groups] = [5, 2, 2];
    const [inPerGroup, outPerGroup] = [2, 2];
    const channelsIn = inPerGroup * groups;
    const channelsOut = outPerGroup * groups;
    const x = values(channelsIn * steps, 4);
    const kernel = values(channelsIn * outPerGroup * taps, 5); // [in, out / groups, taps]
    const b = values(channelsOut, 6);
    // y[o, t] = b[o] + Σ_{i in o's group, s, j: s·stride + j = t} w[i, o mod outPerGroup, j] · x[i, s], for t < steps·stride.
    const length = steps * stride;
    const want = new Float32Array(channelsOut * length);
    for (let o = 0; o < channelsOut; o++) want.fill(b[o], o * length, (o + 1) * length);
    for (let i = 0; i < channelsIn; i++) {
      const group = Math.floor(i / inPerGroup);
      for (let s = 0; s < steps; s++) {
        for (let oo = 0; oo < outPerGroup; oo++) {
          for (let j = 0; j < taps; j++) {
            const t = s * stride + j;
            if (t < length) want[(group * outPerGroup + oo) * length + t] += kernel[(i * outPerGroup + oo) * taps + j] * x[i * steps + s];
          }
        }
      }
    }
    let overlap: Float32Array = new Float32Array(channelsOut * (taps - stride));
    const outputs: Float32Array[] = [];
    for (const [from, to] of [[0, 1], [1, 5], [5, 12]]) {
      const out = await runGraph({ x: floats(timeRange(x, channelsIn, from, to), [1, channelsIn, to - from]), overlap: floats(overlap, [1, channelsOut, taps - stride]) }, (g, v) => {
        const result = ops.streamingConvTranspose(g, v.x, { weight: weight("w", kernel, [channelsIn, outPerGroup, taps]), bias: weight("b", b, [channelsOut]), stride, groups, overlap: v.overlap });
        return { y: result.output, next: result.overlap! };
      });
      outputs.push(out.y.data as Float32Array);
      overlap = out.next.data as Float32Array;
    }
    expect(maxAbsDiff(joinTime(outputs, channelsOut), want)).toBeLessThanOrEqual(1e-5);
  });
});

describe("sliding-window attention", () => {
  const [heads, kvHeads, headDim, window, steps] = [4, 2, 4, 3, 7];
  const q = values(steps * heads * headDim, 7);
  const k = values(steps * kvHeads * headDim, 8);
  const v = values(steps * kvHeads * headDim, 9);

  test("chunks with their cache: query t attends to keys t − window + 1 … t, head j reading KV head j / (H/KV)", async () => {
    const want = new Float32Array(steps * heads * headDim);
    for (let t = 0; t < steps; t++) {
      for (let h = 0; h < heads; h++) {
        const kv = Math.floor(h / (heads / kvHeads));
        const seen = Array.from({ length: t + 1 }, (_, s) => s).filter((s) => t - s < window);
        const scores = seen.map((s) => {
          let dot = 0;
          for (let d = 0; d < headDim; d++) dot += q[(t * heads + h) * headDim + d] * k[(s * kvHeads + kv) * headDim + d];
          return dot / Math.sqrt(headDim);
        });
        const top = Math.max(...scores);
        const weights = scores.map((x) => Math.exp(x - top));
        const total = weights.reduce((a, w) => a + w, 0);
        for (let d = 0; d < headDim; d++) {
          want[(t * heads + h) * headDim + d] = seen.reduce((sum, s, i) => sum + (weights[i] / total) * v[(s * kvHeads + kv) * headDim + d], 0);
        }
      }
    }
    const rows = (x: Float32Array, width: number, from: number, to: number) => x.slice(from * width, to * width);
    let cache: { keys: Float32Array; values: Float32Array; length: number } = { keys: new Float32Array(0), values: new Float32Array(0), length: 0 };
    const outputs: Float32Array[] = [];
    for (const [from, to] of [[0, 1], [1, 5], [5, 7]]) {
      const out = await runGraph(
        {
          q: floats(rows(q, heads * headDim, from, to), [1, to - from, heads * headDim]),
          k: floats(rows(k, kvHeads * headDim, from, to), [1, to - from, kvHeads * headDim]),
          v: floats(rows(v, kvHeads * headDim, from, to), [1, to - from, kvHeads * headDim]),
          keys: floats(cache.keys, [kvHeads, cache.length, headDim]),
          values: floats(cache.values, [kvHeads, cache.length, headDim]),
        },
        (g, x) => {
          const windowCache = { keys: x.keys, values: x.values };
          const mask = ops.slidingWindowMask(g, x.q, window, windowCache.keys);
          const result = ops.slidingWindowAttention(g, x.q, x.k, x.v, { heads, kvHeads, headDim, window, mask, cache: windowCache });
          return { y: result.output, keysNext: result.keys, valuesNext: result.values };
        },
      );
      outputs.push(out.y.data as Float32Array);
      cache = { keys: out.keysNext.data as Float32Array, values: out.valuesNext.data as Float32Array, length: out.keysNext.dims[1] };
      expect(cache.length).toBe(Math.min(window - 1, to));
    }
    expect(maxAbsDiff(Float32Array.from(outputs.flatMap((o) => Array.from(o))), want)).toBeLessThanOrEqual(1e-5);
  });

  test("streamRotary rotates by stream position · inv_freq, as rope over rotaryTables does", async () => {
    const theta = 10000;
    const offset = 5;
    const x = values(3 * heads * headDim, 10);
    const run = (interleaved: boolean, useTables: boolean) =>
      runGraph({ x: floats(x, [1, 3, heads * headDim]), offset: int64s([offset], [1]) }, (g, v) => {
        if (useTables) {
          const positions = offset + 3;
          const rotary = ops.rotary(g, theta, headDim, positions, interleaved);
          return { y: ops.rope(g, v.x, g.constant([offset, offset + 1, offset + 2], "int64", [1, 3]), rotary) };
        }
        const { rotary, positionIds } = ops.streamRotary(g, v.x, v.offset, theta, headDim, interleaved);
        return { y: ops.rope(g, v.x, positionIds, rotary) };
      });
    for (const interleaved of [false, true]) {
      const [streamed, tabled] = await Promise.all([run(interleaved, false), run(interleaved, true)]);
      expect(maxAbsDiff(streamed.y.data as Float32Array, tabled.y.data as Float32Array)).toBeLessThanOrEqual(1e-6);
    }
  });
});

describe("residual vector quantization", () => {
  const [entries, dim, vectors, stages] = [6, 3, 5, 3];
  const codebooks = Array.from({ length: stages }, (_, l) => values(entries * dim, 20 + l).map((e) => e / (l + 1)));
  const sources = codebooks.map((c, l) => weight(`codebook${l}`, c, [entries, dim]));
  const x = values(vectors * dim, 30);

  test("each stage picks the entry nearest to what the stages before it left; dequantize sums the picks", async () => {
    const wantCodes: number[][] = codebooks.map(() => []);
    const wantSum = new Float32Array(vectors * dim);
    for (let n = 0; n < vectors; n++) {
      const residual = Array.from(x.subarray(n * dim, (n + 1) * dim));
      codebooks.forEach((codebook, l) => {
        const distance = (j: number) => residual.reduce((sum, r, d) => sum + (r - codebook[j * dim + d]) ** 2, 0);
        let best = 0;
        for (let j = 1; j < entries; j++) if (distance(j) < distance(best)) best = j;
        wantCodes[l].push(best);
        residual.forEach((_, d) => {
          residual[d] -= codebook[best * dim + d];
          wantSum[n * dim + d] += codebook[best * dim + d];
        });
      });
    }
    const out = await runGraph({ x: floats(x, [vectors, dim]) }, (g, v) => {
      const codes = ops.residualQuantize(g, v.x, sources);
      return { codes, sum: ops.residualDequantize(g, codes, sources) };
    }, ["codes"]);
    expect(Array.from(out.codes.data as BigInt64Array, Number)).toEqual(wantCodes.flat());
    expect(out.codes.dims).toEqual([stages, vectors]);
    expect(maxAbsDiff(out.sum.data as Float32Array, wantSum)).toBeLessThanOrEqual(1e-5);
  });
});
