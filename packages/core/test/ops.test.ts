/** Operators no fixture model exercises yet, against their closed-form definitions. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { maxAbsDiff, scratchDir } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";
import { GraphBuilder, openSession, ops, ort, type WeightSource } from "../src/index.js";

const D = 8;
const x = Float32Array.from({ length: 3 * D }, (_, i) => Math.sin(i * 1.3) * 2);
const weight = (name: string, data: Float32Array, shape = [data.length]): WeightSource => ({ name, shape, read: () => data });

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

/** Runs a graph of named float32 inputs to one output. */
async function runGraph(inputs: Record<string, { data: Float32Array; dims: number[] }>, build: (g: GraphBuilder, names: Record<string, string>) => string): Promise<Float32Array> {
  const dir = scratchDir("ops");
  const g = new GraphBuilder(join(dir, "g.data"), "g.data");
  const names = Object.fromEntries(Object.entries(inputs).map(([name, { dims }]) => [name, g.input(name, "float32", dims)]));
  g.output(build(g, names), "y", "float32", ["n"]);
  writeFileSync(join(dir, "g.onnx"), g.finish("ops"));
  const session = await openSession(join(dir, "g.onnx"));
  const feeds = Object.fromEntries(Object.entries(inputs).map(([name, { data, dims }]) => [name, new ort.Tensor("float32", data, dims)]));
  return (await session.run(feeds)).y.data as Float32Array;
}

const values = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + seed) * 1.5);

describe("bidirectionalAttention", () => {
  const [batch, seq, heads, kvHeads, headDim] = [2, 5, 4, 2, 3];
  const q = values(batch * seq * heads * headDim, 1);
  const k = values(batch * seq * kvHeads * headDim, 2);
  const v = values(batch * seq * kvHeads * headDim, 3);
  // The second sequence has two padded positions at its end.
  const mask = Float32Array.from({ length: batch * seq }, (_, i) => (i >= seq && i % seq >= seq - 2 ? 0 : 1));

  /** softmax(q·kᵀ/√hd over the real keys) · v, per batch and query head, head j reading KV head j / (H/KV). */
  function closedForm(): Float32Array {
    const out = new Float32Array(batch * seq * heads * headDim);
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < heads; h++) {
        const kv = Math.floor(h / (heads / kvHeads));
        for (let s = 0; s < seq; s++) {
          const scores: number[] = [];
          for (let t = 0; t < seq; t++) {
            let dot = 0;
            for (let d = 0; d < headDim; d++) dot += q[((b * seq + s) * heads + h) * headDim + d] * k[((b * seq + t) * kvHeads + kv) * headDim + d];
            scores.push(mask[b * seq + t] ? dot / Math.sqrt(headDim) : -Infinity);
          }
          const top = Math.max(...scores);
          const weights = scores.map((x) => Math.exp(x - top));
          const total = weights.reduce((a, w) => a + w, 0);
          for (let d = 0; d < headDim; d++) {
            let mixed = 0;
            for (let t = 0; t < seq; t++) mixed += (weights[t] / total) * v[((b * seq + t) * kvHeads + kv) * headDim + d];
            out[((b * seq + s) * heads + h) * headDim + d] = mixed;
          }
        }
      }
    }
    return out;
  }

  test("attends over every real key of its own sequence, padded keys excluded, grouped heads", async () => {
    const got = await runGraph(
      {
        q: { data: q, dims: [batch, seq, heads * headDim] },
        k: { data: k, dims: [batch, seq, kvHeads * headDim] },
        v: { data: v, dims: [batch, seq, kvHeads * headDim] },
        mask: { data: mask, dims: [batch, seq] },
      },
      (g, x) => ops.bidirectionalAttention(g, x.q, x.k, x.v, { heads, kvHeads, headDim }, ops.keyPaddingBias(g, x.mask)),
    );
    expect(maxAbsDiff(got, closedForm())).toBeLessThanOrEqual(1e-5);
  });

  test("splitFusedQkv takes q, k and v from one projection in that order", async () => {
    const fused = new Float32Array(batch * seq * (heads + 2 * kvHeads) * headDim);
    const [qw, kw] = [heads * headDim, kvHeads * headDim];
    for (let r = 0; r < batch * seq; r++) {
      fused.set(q.subarray(r * qw, (r + 1) * qw), r * (qw + 2 * kw));
      fused.set(k.subarray(r * kw, (r + 1) * kw), r * (qw + 2 * kw) + qw);
      fused.set(v.subarray(r * kw, (r + 1) * kw), r * (qw + 2 * kw) + qw + kw);
    }
    const got = await runGraph({ qkv: { data: fused, dims: [batch, seq, qw + 2 * kw] }, mask: { data: mask, dims: [batch, seq] } }, (g, x) => {
      const [sq, sk, sv] = ops.splitFusedQkv(g, x.qkv, { heads, kvHeads, headDim });
      return ops.bidirectionalAttention(g, sq, sk, sv, { heads, kvHeads, headDim }, ops.keyPaddingBias(g, x.mask));
    });
    expect(maxAbsDiff(got, closedForm())).toBeLessThanOrEqual(1e-5);
  });
});

test("causalDepthwiseConv: each step mixes its channel's last L inputs, the earlier ones from the state", async () => {
  const [steps, channels, taps] = [4, 3, 4];
  const kernel = values(channels * taps, 4);
  const bias = values(channels, 5);
  const input = values(steps * channels, 6);
  const state = values((taps - 1) * channels, 7);
  const window = [...state, ...input];
  const want = new Float32Array(steps * channels);
  for (let t = 0; t < steps; t++) {
    for (let c = 0; c < channels; c++) {
      let sum = bias[c];
      for (let j = 0; j < taps; j++) sum += kernel[c * taps + j] * window[(t + j) * channels + c];
      want[t * channels + c] = sum;
    }
  }
  const build = (part: "output" | "state") => (g: GraphBuilder, x: Record<string, string>) =>
    ops.causalDepthwiseConv(g, x.input, { kernel: weight("kernel", kernel, [channels, 1, taps]), bias: weight("bias", bias), state: x.state })[part];
  const inputs = { input: { data: input, dims: [1, steps, channels] }, state: { data: state, dims: [1, taps - 1, channels] } };
  expect(maxAbsDiff(await runGraph(inputs, build("output")), want)).toBeLessThanOrEqual(1e-5);
  expect(maxAbsDiff(await runGraph(inputs, build("state")), window.slice(-(taps - 1) * channels))).toBe(0);
});

test("activation names map to their functions; an unknown name is refused", async () => {
  const silu = await run((g, input) => ops.activation(g, input, "silu"));
  expect(maxAbsDiff(silu, Array.from(x, (v) => v / (1 + Math.exp(-v))))).toBeLessThanOrEqual(1e-5);
  const tanh = await run((g, input) => ops.activation(g, input, "gelu_pytorch_tanh"));
  expect(maxAbsDiff(tanh, await run((g, input) => ops.gelu(g, input, "tanh")))).toBe(0);
  await expect(run((g, input) => ops.activation(g, input, "mish"))).rejects.toThrow(/unknown activation "mish"/);
});

describe("convolutions in ONNX layout", () => {
  const [inChannels, outChannels, steps, taps] = [4, 6, 11, 3];
  const input = values(inChannels * steps, 8);
  const kernel = values(outChannels * (inChannels / 2) * taps, 9);
  const bias = values(outChannels, 10);

  /** y[o, t] = b[o] + Σ_{i in o's group, j} w[o, i, j] · x[i, t·stride + j·dilation − padBegin] (zero outside). */
  function closedForm(stride: number, dilation: number, [padBegin, padEnd]: [number, number], groups: number, w = kernel, b: Float32Array | undefined = bias): Float32Array {
    const perGroupIn = inChannels / groups;
    const perGroupOut = outChannels / groups;
    const length = Math.floor((steps + padBegin + padEnd - dilation * (taps - 1) - 1) / stride) + 1;
    const out = new Float32Array(outChannels * length);
    for (let o = 0; o < outChannels; o++) {
      const group = Math.floor(o / perGroupOut);
      for (let t = 0; t < length; t++) {
        let sum = b ? b[o] : 0;
        for (let i = 0; i < perGroupIn; i++) {
          for (let j = 0; j < taps; j++) {
            const at = t * stride + j * dilation - padBegin;
            if (at >= 0 && at < steps) sum += w[(o * perGroupIn + i) * taps + j] * input[(group * perGroupIn + i) * steps + at];
          }
        }
        out[o * length + t] = sum;
      }
    }
    return out;
  }

  test.each([
    [1, 1, [2, 0]],
    [2, 1, [0, 0]],
    [1, 2, [4, 0]],
    [3, 2, [1, 2]],
  ] as const)("conv1d stride %i dilation %i padding %j, two groups", async (stride, dilation, padding) => {
    const got = await runGraph({ x: { data: input, dims: [1, inChannels, steps] } }, (g, x) =>
      ops.conv(g, x.x, { weight: weight("w", kernel, [outChannels, inChannels / 2, taps]), bias: weight("b", bias), strides: [stride], dilations: [dilation], padding: [padding], groups: 2 }),
    );
    expect(maxAbsDiff(got, closedForm(stride, dilation, [padding[0], padding[1]], 2))).toBeLessThanOrEqual(1e-5);
  });

  test("foldBatchNorm equals the convolution followed by inference batch norm", async () => {
    const [gamma, beta, mean, variance] = [values(outChannels, 11), values(outChannels, 12), values(outChannels, 13), Float32Array.from(values(outChannels, 14), (v) => v * v + 0.1)];
    const eps = 1e-5;
    const spec = { weight: weight("w", kernel, [outChannels, inChannels / 2, taps]), bias: weight("b", bias), groups: 2 };
    const folded = ops.foldBatchNorm(spec, { weight: weight("g", gamma), bias: weight("beta", beta), runningMean: weight("m", mean), runningVar: weight("v", variance), eps });
    const got = await runGraph({ x: { data: input, dims: [1, inChannels, steps] } }, (g, x) => ops.conv(g, x.x, folded));
    const plain = closedForm(1, 1, [0, 0], 2);
    const length = plain.length / outChannels;
    const want = plain.map((y, i) => {
      const c = Math.floor(i / length);
      return ((y - mean[c]) / Math.sqrt(variance[c] + eps)) * gamma[c] + beta[c];
    });
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5);
  });

  test("convTranspose1d stride 2: each input step adds its kernel-weighted copy at t·stride, trimmed", async () => {
    const stride = 2;
    const transposedKernel = values(inChannels * outChannels * taps, 15); // [in, out, taps], one group
    const full = (steps - 1) * stride + taps;
    const want = new Float32Array(outChannels * (full - 1));
    const trimmed = (o: number, t: number) => o * (full - 1) + t - 1;
    for (let o = 0; o < outChannels; o++) for (let t = 1; t < full; t++) want[trimmed(o, t)] = bias[o];
    for (let i = 0; i < inChannels; i++) {
      for (let s = 0; s < steps; s++) {
        for (let o = 0; o < outChannels; o++) {
          for (let j = 0; j < taps; j++) {
            const t = s * stride + j;
            if (t >= 1) want[trimmed(o, t)] += transposedKernel[(i * outChannels + o) * taps + j] * input[i * steps + s];
          }
        }
      }
    }
    const got = await runGraph({ x: { data: input, dims: [1, inChannels, steps] } }, (g, x) =>
      ops.convTranspose(g, x.x, { weight: weight("w", transposedKernel, [inChannels, outChannels, taps]), bias: weight("b", bias), strides: [stride], trim: [[1, 0]] }),
    );
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-5);
  });

  test("elu", async () => {
    const got = await run((g, input) => ops.elu(g, input));
    expect(maxAbsDiff(got, Array.from(x, (v) => (v > 0 ? v : Math.exp(v) - 1)))).toBeLessThanOrEqual(1e-6);
  });
});

describe("sparseExperts", () => {
  // Wide rows and many pairs per row, so ORT splits the work across threads: that is where a
  // reducing scatter lost updates (the result then changed from run to run).
  const [rowCount, hidden, width, expertCount, perRow] = [192, 512, 8, 8, 4];
  const silu = (v: number) => v / (1 + Math.exp(-v));
  const experts = Array.from({ length: expertCount }, (_, e) => ({
    gate: values(width * hidden, 10 + e).map((v) => v / 20),
    up: values(width * hidden, 30 + e).map((v) => v / 20),
    down: values(hidden * width, 50 + e).map((v) => v / 10),
  }));
  const rows = values(rowCount * hidden, 4);
  // Row n uses experts n, n + 1, …, n + perRow − 1 (mod E); every seventh row drops one of them
  // (a zero weight) and every eleventh uses none.
  const routing = new Float32Array(rowCount * expertCount);
  for (let n = 0; n < rowCount; n++) {
    if (n % 11 === 0) continue;
    for (let j = 0; j < perRow; j++) routing[n * expertCount + ((n + j) % expertCount)] = n % 7 === 0 && j === 1 ? 0 : 0.1 + ((n * 3 + j) % 5) / 10;
  }

  /** Σ_e routing[n, e] · down_e(silu(gate_e · x) ⊙ up_e · x), row by row. */
  function closedForm(): Float32Array {
    const out = new Float32Array(rowCount * hidden);
    for (let n = 0; n < rowCount; n++) {
      const x = rows.subarray(n * hidden, (n + 1) * hidden);
      for (let e = 0; e < expertCount; e++) {
        const w = routing[n * expertCount + e];
        if (w === 0) continue;
        const inner = Array.from({ length: width }, (_, i) => {
          let gate = 0;
          let up = 0;
          for (let d = 0; d < hidden; d++) {
            gate += experts[e].gate[i * hidden + d] * x[d];
            up += experts[e].up[i * hidden + d] * x[d];
          }
          return silu(gate) * up;
        });
        for (let d = 0; d < hidden; d++) {
          let sum = 0;
          for (let i = 0; i < width; i++) sum += experts[e].down[d * width + i] * inner[i];
          out[n * hidden + d] += w * sum;
        }
      }
    }
    return out;
  }

  test("sums each row's chosen experts once, the same on every run", async () => {
    const specs = experts.map((e, i) => ({
      gate: { weight: weight(`e${i}.gate`, e.gate, [width, hidden]), format: "f32" as const },
      up: { weight: weight(`e${i}.up`, e.up, [width, hidden]), format: "f32" as const },
      down: { weight: weight(`e${i}.down`, e.down, [hidden, width]), format: "f32" as const },
    }));
    const want = closedForm();
    for (let run = 0; run < 5; run++) {
      const got = await runGraph({ rows: { data: rows, dims: [rowCount, hidden] }, routing: { data: routing, dims: [rowCount, expertCount] } }, (g, names) =>
        ops.sparseExperts(g, names.rows, names.routing, specs, perRow),
      );
      expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-4);
    }
  });
});
