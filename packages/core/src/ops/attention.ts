/**
 * Scaled dot-product attention: cached causal attention for decoders, bidirectional attention with a
 * key-padding mask for encoders, and the split of a fused q/k/v projection.
 */
import { LfmkitError } from "../errors.js";
import type { GraphBuilder } from "../onnx/graph.js";
import { FLOAT32_LOWEST, INT64_MAX, ONNX_FLOAT } from "./constants.js";

export interface KvCacheInputs {
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
  readonly cache: KvCacheInputs;
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

export interface HeadLayout {
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/** q, k, v from one fused projection [..., (H + 2·KV)·hd], in that order. */
export function splitFusedQkv(g: GraphBuilder, qkv: string, { heads, kvHeads, headDim }: HeadLayout): [string, string, string] {
  const sizes = g.constant([heads * headDim, kvHeads * headDim, kvHeads * headDim]);
  const [q, k, v] = g.op("Split", [qkv, sizes], { axis: -1 }, { outputs: 3 });
  return [q, k, v];
}

/**
 * Additive key mask [B, 1, 1, S] from a [B, S] mask that is 1 (or true) at the real positions and 0
 * at padding: padded keys get the most negative float32, as transformers masks them.
 */
export function keyPaddingBias(g: GraphBuilder, mask: string): string {
  const real = g.op1("Cast", [mask], { to: ONNX_FLOAT });
  const bias = g.op1("Mul", [g.op1("Sub", [g.scalar(1, "float32"), real]), g.scalar(FLOAT32_LOWEST, "float32")]);
  return g.op1("Unsqueeze", [bias, g.constant([1, 2])]);
}

/**
 * Every position attends to every position of its own sequence, padded keys excluded by
 * `keyBias` [B, 1, 1, S] (see `keyPaddingBias`). q: [B, S, H·hd]; k, v: [B, S, KV·hd]; query head j
 * reads KV head floor(j / G), G = H/KV. Returns [B, S, H·hd].
 */
export function bidirectionalAttention(g: GraphBuilder, q: string, k: string, v: string, layout: HeadLayout, keyBias?: string): string {
  const { heads, kvHeads, headDim } = layout;
  if (heads % kvHeads !== 0) throw new LfmkitError(`${heads} query heads cannot share ${kvHeads} KV heads evenly`);
  const group = heads / kvHeads;
  const batch = g.op1("Shape", [q], { start: 0, end: 1 });
  const dims = (...rest: number[]) => g.op1("Concat", [batch, g.constant(rest)], { axis: 0 });
  const scaled = g.op1("Mul", [q, g.scalar(1 / Math.sqrt(headDim), "float32")]);
  const queries = g.op1("Reshape", [
    g.op1("Transpose", [g.op1("Reshape", [scaled, dims(-1, kvHeads, group, headDim)])], { perm: [0, 2, 3, 1, 4] }),
    dims(kvHeads, -1, headDim),
  ]); // [B, KV, G·S, hd]
  const keysT = g.op1("Transpose", [g.op1("Reshape", [k, dims(-1, kvHeads, headDim)])], { perm: [0, 2, 3, 1] }); // [B, KV, hd, S]
  const values = g.op1("Transpose", [g.op1("Reshape", [v, dims(-1, kvHeads, headDim)])], { perm: [0, 2, 1, 3] }); // [B, KV, S, hd]
  let scores = g.op1("MatMul", [queries, keysT]); // [B, KV, G·S, S]
  if (keyBias) scores = g.op1("Add", [scores, keyBias]);
  const mixed = g.op1("MatMul", [g.op1("Softmax", [scores], { axis: -1 }), values]); // [B, KV, G·S, hd]
  const perQuery = g.op1("Reshape", [mixed, dims(kvHeads, group, -1, headDim)]); // [B, KV, G, S, hd]
  return g.op1("Reshape", [g.op1("Transpose", [perQuery], { perm: [0, 3, 1, 2, 4] }), dims(-1, heads * headDim)]);
}
