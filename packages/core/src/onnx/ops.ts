/**
 * The operator layer: each neural-network building block defined once, as ONNX nodes,
 * shared by every model file. Activations are float32; shapes are [batch=1, seq, features].
 */
import { LfmkitError } from "../errors.js";
import { QUANT_BLOCK_SIZE, quantizeBlockwise, type BlockGrid, type WeightFormat } from "../quantize.js";
import type { GraphBuilder } from "./graph.js";

const INT64_MAX = Number.MAX_SAFE_INTEGER;
const ONNX_BOOL = 9;
const ONNX_INT64 = 7;

/** A checkpoint tensor that is read only when the graph needs it. */
export interface WeightSource {
  readonly name: string;
  readonly shape: readonly number[];
  read(): Float32Array;
  /** The block quantization the values already lie on (a GGUF Q4_0 / Q8_0 tensor), kept when re-quantized at the same bits. */
  readonly quantized?: BlockGrid;
}

export interface LinearSpec {
  readonly weight: WeightSource;
  readonly bias?: WeightSource;
  readonly format: WeightFormat;
  /** `MatMulNBits` compute precision: 0 = as stored, 4 = int8 activations. */
  readonly accuracyLevel?: number;
}

/** A float32 weight stored once, whatever number of nodes read it. */
export function floatWeight(g: GraphBuilder, source: WeightSource): string {
  return g.has(source.name) ? source.name : g.weight(source.name, source.read(), [...source.shape]);
}

/**
 * Quantized weights are split into slices of at most this many rows × columns. ORT repacks each
 * `MatMulNBits` weight at session load while the stored copy is still mapped, so the largest
 * single weight (a 65k-row LM head: 67 MB at 4 bits) sets the transient peak above the loaded
 * model; slices of 16M weights bound it at 8 MB.
 */
const MAX_QUANTIZED_SLICE = 1 << 24;

/** y = x Wᵀ (+ b) for W of shape [out, in], stored as float32 or as 8/4-bit blocks. */
export function linear(g: GraphBuilder, x: string, spec: LinearSpec): string {
  const [outFeatures, inFeatures] = spec.weight.shape;
  let y: string;
  if (spec.format === "f32") {
    const flat = g.op1("Reshape", [x, g.constant([-1, inFeatures])]);
    const product = g.op1("Gemm", [flat, floatWeight(g, spec.weight)], { transB: 1 });
    y = g.op1("Reshape", [product, g.constant([1, -1, outFeatures])]);
  } else {
    const bits = spec.format === "q8" ? 8 : 4;
    const stored = spec.weight.quantized;
    const q = quantizeBlockwise(spec.weight.read(), outFeatures, inFeatures, bits, stored?.bits === bits ? stored.blockSize : QUANT_BLOCK_SIZE[bits]);
    const blobBytes = q.data.length / (outFeatures * q.blocksPerRow);
    const sliceRows = Math.max(1, Math.floor(MAX_QUANTIZED_SLICE / inFeatures));
    const slices: string[] = [];
    for (let first = 0; first < outFeatures; first += sliceRows) {
      const rows = Math.min(sliceRows, outFeatures - first);
      const name = `${spec.weight.name}.${spec.format}${rows === outFeatures ? "" : `.rows${first}`}`;
      const rowBlocks = (r: number) => r * q.blocksPerRow;
      const data = g.weight(`${name}.data`, q.data.subarray(rowBlocks(first) * blobBytes, rowBlocks(first + rows) * blobBytes), [rows, q.blocksPerRow, blobBytes]);
      const scales = g.weight(`${name}.scales`, q.scales.subarray(rowBlocks(first), rowBlocks(first + rows)), [rows * q.blocksPerRow]);
      slices.push(
        g.op1(
          "MatMulNBits",
          [x, data, scales],
          { K: inFeatures, N: rows, bits, block_size: q.blockSize, accuracy_level: spec.accuracyLevel ?? 4 },
          "com.microsoft",
        ),
      );
    }
    y = slices.length === 1 ? slices[0] : g.op1("Concat", slices, { axis: -1 });
  }
  return spec.bias ? g.op1("Add", [y, floatWeight(g, spec.bias)]) : y;
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · w (no 1+w offset). */
export function rmsNorm(g: GraphBuilder, x: string, weight: WeightSource, eps: number): string {
  return g.op1("SimplifiedLayerNormalization", [x, floatWeight(g, weight)], { axis: -1, epsilon: { float: eps } });
}

/** LayerNorm over the last axis with affine weight and bias. */
export function layerNorm(g: GraphBuilder, x: string, weight: WeightSource, bias: WeightSource, eps: number): string {
  return g.op1("LayerNormalization", [x, floatWeight(g, weight), floatWeight(g, bias)], { axis: -1, epsilon: { float: eps } });
}

/** RMSNorm applied to every head vector of x [1, S, heads·headDim]. */
export function perHeadRmsNorm(g: GraphBuilder, x: string, weight: WeightSource, headDim: number, eps: number): string {
  const heads = g.op1("Reshape", [x, g.constant([1, -1, headDim])]);
  const normed = rmsNorm(g, heads, weight, eps);
  return g.op1("Reshape", [normed, g.op1("Shape", [x])]);
}

export function silu(g: GraphBuilder, x: string): string {
  return g.op1("Mul", [x, g.op1("Sigmoid", [x])]);
}

/** GELU, exact (erf) or tanh-approximated. */
export function gelu(g: GraphBuilder, x: string, approximate: "none" | "tanh" = "none"): string {
  if (approximate === "tanh") return g.op1("FastGelu", [x], {}, "com.microsoft");
  return g.op1("Gelu", [x], {}, "com.microsoft");
}

/** SwiGLU feed-forward: down( silu(gate x) ⊙ up x ). */
export function swiglu(g: GraphBuilder, x: string, gate: LinearSpec, up: LinearSpec, down: LinearSpec): string {
  return linear(g, g.op1("Mul", [silu(g, linear(g, x, gate)), linear(g, x, up)]), down);
}

/**
 * cos/sin tables for rotary embeddings, computed in float32 the way the reference does
 * (inv_freq and the angle rounded to float32 before cos/sin).
 */
export function rotaryTables(theta: number, headDim: number, positions: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let i = 0; i < half; i++) {
    const invFreq = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
    for (let p = 0; p < positions; p++) {
      const angle = Math.fround(p * invFreq);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

export interface RotarySpec {
  readonly cos: string;
  readonly sin: string;
  /** false: rotate-half (NeoX) pairs i with i + d/2; true: adjacent pairs (2i, 2i+1). */
  readonly interleaved: boolean;
}

/** Applies RoPE to x [1, S, heads·headDim] at the given positions [1, S]. */
export function rope(g: GraphBuilder, x: string, positionIds: string, rotary: RotarySpec): string {
  return g.op1("RotaryEmbedding", [x, positionIds, rotary.cos, rotary.sin], { interleaved: rotary.interleaved ? 1 : 0 }, "com.microsoft");
}

export interface KvCache {
  /** Graph input with the layer's cached keys, [KV, capacity, headDim]. */
  readonly keys: string;
  /** Graph input with the layer's cached values, transposed: [KV, headDim, capacity]. */
  readonly valuesTransposed: string;
}

export interface AttentionMasks {
  /** Additive [1, capacity]: 0 for the cached positions, -inf for the unused rest of the buffers. */
  readonly cached: string;
  /** Additive [G·S, S]: query row g·S + s may see new key s' only if s' ≤ s. */
  readonly causal: string;
}

/**
 * The masks every attention layer of a step shares. The cache buffers are allocated ahead of use
 * (see `cachedAttention`), so positions from the first position id up to their capacity are masked.
 */
export function attentionMasks(g: GraphBuilder, positionIds: string, cachedKeys: string, group: number): AttentionMasks {
  const capacity = g.op1("Squeeze", [g.op1("Shape", [cachedKeys], { start: 1, end: 2 })]);
  const past = g.op1("Squeeze", [g.op1("Slice", [positionIds, g.constant([0]), g.constant([1]), g.constant([1])]), g.constant([0, 1])]);
  const slots = g.op1("Unsqueeze", [g.op1("Range", [g.scalar(0), capacity, g.scalar(1)]), g.constant([0])]);
  const cached = additiveMask(g, g.op1("GreaterOrEqual", [slots, past]));

  const tokens = g.op1("Squeeze", [g.op1("Shape", [positionIds], { start: 1, end: 2 })]);
  const steps = g.op1("Range", [g.scalar(0), tokens, g.scalar(1)]);
  const queryRows = g.op1("Unsqueeze", [g.op1("Tile", [steps, g.constant([group])]), g.constant([1])]);
  const causal = additiveMask(g, g.op1("Greater", [g.op1("Unsqueeze", [steps, g.constant([0])]), queryRows]));
  return { cached, causal };
}

function additiveMask(g: GraphBuilder, hidden: string): string {
  return g.op1("Where", [hidden, g.scalar(-Infinity, "float32"), g.scalar(0, "float32")]);
}

export interface AttentionSpec {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly cache: KvCache;
  readonly masks: AttentionMasks;
}

/**
 * Grouped-query attention of S new positions over the cached ones plus themselves.
 * q: [1, S, H·hd]; k, v: [1, S, KV·hd] (already normed and rotated). Query head j reads KV head
 * floor(j / G), G = H/KV; a KV head's G·S query rows are ordered g·S + s.
 *
 * The cache is read where it lies, in buffers the runtime allocates ahead of use and appends to:
 * keys as [KV, capacity, hd] and values transposed as [KV, hd, capacity]. Both are the left
 * operand of their products, the query-sized tensor the right one:
 *   scoresᵀ = K · Qᵀ        [KV, capacity, G·S]
 *   outᵀ    = Vᵀ · probsᵀ   [KV, hd, G·S]
 * so MLAS streams the cache once and packs only the small operand, and one node per product serves
 * every head. The scores are transposed (a query-sized copy) so the softmax runs over the last axis,
 * which ORT computes several times faster than over a middle one. Returns the output [1, S, H·hd] and
 * the new keys / values as [KV, S, hd] for the caller to append to its cache.
 */
export function cachedAttention(
  g: GraphBuilder,
  q: string,
  k: string,
  v: string,
  spec: AttentionSpec,
): { output: string; newKeys: string; newValues: string } {
  const { heads, kvHeads, headDim, cache, masks } = spec;
  if (heads % kvHeads !== 0) throw new LfmkitError(`${heads} query heads cannot share ${kvHeads} KV heads evenly`);
  const group = heads / kvHeads;
  const headsFirst = (x: string) =>
    g.op1("Transpose", [g.op1("Reshape", [x, g.constant([-1, kvHeads, headDim])])], { perm: [1, 0, 2] }); // [KV, S, hd]
  const transposed = (x: string) => g.op1("Transpose", [x], { perm: [0, 2, 1] });
  const newKeys = headsFirst(k);
  const newValues = headsFirst(v);
  const scaled = g.op1("Mul", [q, g.scalar(1 / Math.sqrt(headDim), "float32")]);
  const grouped = g.op1("Transpose", [g.op1("Reshape", [scaled, g.constant([-1, kvHeads, group, headDim])])], { perm: [1, 2, 0, 3] }); // [KV, G, S, hd]
  const queryRows = g.op1("Reshape", [grouped, g.constant([kvHeads, -1, headDim])]); // [KV, G·S, hd]

  const cachedScores = g.op1("Add", [transposed(g.op1("MatMul", [cache.keys, transposed(queryRows)])), masks.cached]); // [KV, G·S, capacity]
  const newScores = g.op1("Add", [g.op1("MatMul", [queryRows, transposed(newKeys)]), masks.causal]); // [KV, G·S, S]
  const probs = g.op1("Softmax", [g.op1("Concat", [cachedScores, newScores], { axis: -1 })], { axis: -1 });
  const capacity = g.op1("Shape", [cache.keys], { start: 1, end: 2 });
  const lastAxis = g.constant([2]);
  const cachedProbs = g.op1("Slice", [probs, g.constant([0]), capacity, lastAxis]);
  const newProbs = g.op1("Slice", [probs, capacity, g.constant([INT64_MAX]), lastAxis]);
  const transposedProduct = (a: string, b: string) => g.op1("FusedMatMul", [a, b], { transB: 1 }, "com.microsoft"); // a · bᵀ
  const mixed = g.op1("Add", [transposedProduct(cache.valuesTransposed, cachedProbs), transposedProduct(transposed(newValues), newProbs)]); // [KV, hd, G·S]

  const perQuery = g.op1("Reshape", [mixed, g.constant([kvHeads, headDim, group, -1])]); // [KV, hd, G, S]
  const output = g.op1("Reshape", [g.op1("Transpose", [perQuery], { perm: [3, 0, 2, 1] }), g.constant([1, -1, heads * headDim])]);
  return { output, newKeys, newValues };
}

export interface ShortConvSpec {
  readonly inProj: LinearSpec;
  readonly outProj: LinearSpec;
  /** Depthwise kernel [D, 1, L] (or [D, L]). */
  readonly kernel: WeightSource;
  readonly kernelBias?: WeightSource;
  /** Graph input with the last L-1 gated inputs, [1, L-1, D]. */
  readonly state: string;
}

/**
 * LFM2's gated short convolution: B, C, x = split(in_proj(n)); u = B ⊙ x;
 * v = causal depthwise conv over time of u (kernel L, prefixed by the L-1 cached steps);
 * out = out_proj(C ⊙ v). Returns the output and the new state (the last L-1 values of u).
 */
export function shortConv(g: GraphBuilder, x: string, spec: ShortConvSpec): { output: string; state: string } {
  const [channels, ...rest] = spec.kernel.shape;
  const taps = rest[rest.length - 1];
  const [b, c, xs] = g.op("Split", [linear(g, x, spec.inProj)], { axis: -1 }, { outputs: 3 });
  const window = g.op1("Concat", [spec.state, g.op1("Mul", [b, xs])], { axis: 1 }); // [1, L-1+S, D]
  const kernel = spec.kernel.read();
  let conv = "";
  for (let tap = 0; tap < taps; tap++) {
    const tapWeights = new Float32Array(channels);
    for (let ch = 0; ch < channels; ch++) tapWeights[ch] = kernel[ch * taps + tap];
    const end = tap === taps - 1 ? INT64_MAX : tap - (taps - 1);
    const shifted = g.op1("Slice", [window, g.constant([tap]), g.constant([end]), g.constant([1])]);
    const term = g.op1("Mul", [shifted, g.weight(`${spec.kernel.name}.tap${tap}`, tapWeights, [channels])]);
    conv = conv ? g.op1("Add", [conv, term]) : term;
  }
  if (spec.kernelBias) conv = g.op1("Add", [conv, floatWeight(g, spec.kernelBias)]);
  const state = g.op1("Slice", [window, g.constant([-(taps - 1)]), g.constant([INT64_MAX]), g.constant([1])]);
  return { output: linear(g, g.op1("Mul", [c, conv]), spec.outProj), state };
}

export interface ExpertSpec {
  readonly gate: LinearSpec;
  readonly up: LinearSpec;
  readonly down: LinearSpec;
}

/**
 * Sparse mixture of SwiGLU experts: y[n] = Σ_e weights[n, e] · SwiGLU_e(rows[n]).
 * rows: [N, D]; weights: [N, E], zero where a row does not use an expert.
 *
 * The (expert, row) pairs are gathered once per layer, grouped by expert, and split into one batch
 * per expert, so an expert no row chose runs on an empty batch and its weights are never read. Each
 * expert's gate and up projections are one `linear` over their stacked weights: fewer nodes per
 * expert, which is what a decode step of many mostly idle experts pays for.
 */
export function sparseExperts(g: GraphBuilder, rows: string, weights: string, experts: readonly ExpertSpec[]): string {
  const outFeatures = experts[0].down.weight.shape[0];
  const byExpert = g.op1("Transpose", [weights], { perm: [1, 0] }); // [E, N]
  const pairs = g.op1("Transpose", [g.op1("NonZero", [byExpert])], { perm: [1, 0] }); // [M, 2]: (expert, row), by expert
  const rowIndex = g.op1("Slice", [pairs, g.constant([1]), g.constant([2]), g.constant([1])]); // [M, 1]
  const pairWeights = g.op1("Unsqueeze", [g.op1("GatherND", [byExpert, pairs]), g.constant([1])]); // [M, 1]
  const routed = g.op1("Cast", [g.op1("Cast", [byExpert], { to: ONNX_BOOL })], { to: ONNX_INT64 });
  const rowsPerExpert = g.op1("ReduceSum", [routed, g.constant([1])], { keepdims: 0 }); // [E]
  const batches = g.op("Split", [g.op1("GatherND", [rows, rowIndex]), rowsPerExpert], { axis: 0 }, { outputs: experts.length });
  const outputs = experts.map((expert, e) => {
    const gateUp: LinearSpec = { ...expert.gate, weight: stackedRows(expert.gate.weight, expert.up.weight) };
    const [gate, up] = g.op("Split", [linear(g, batches[e], gateUp)], { axis: -1 }, { outputs: 2 });
    return linear(g, g.op1("Mul", [silu(g, gate), up]), expert.down);
  });
  const y = g.op1("Reshape", [g.op1("Concat", outputs, { axis: -2 }), g.constant([-1, outFeatures])]); // [M, D]
  return g.op1("ScatterND", [g.op1("Mul", [rows, g.scalar(0, "float32")]), rowIndex, g.op1("Mul", [y, pairWeights])], { reduction: "add" });
}

/** Two weights of shapes [a, in] and [b, in], read as one [a + b, in]. */
function stackedRows(first: WeightSource, second: WeightSource): WeightSource {
  const [a, inFeatures] = first.shape;
  const b = second.shape[0];
  const [p, q] = [first.quantized, second.quantized];
  return {
    name: `${first.name}+${second.name}`,
    shape: [a + b, inFeatures],
    quantized: p && q && p.bits === q.bits && p.blockSize === q.blockSize ? p : undefined,
    read() {
      const stacked = new Float32Array((a + b) * inFeatures);
      stacked.set(first.read());
      stacked.set(second.read(), a * inFeatures);
      return stacked;
    },
  };
}
