/**
 * Causal attention limited to a sliding window, for streams of any length: the keys and values a
 * chunk still needs from earlier chunks (at most window − 1 positions) enter and leave the graph as
 * values, and rotary angles are computed in the graph from the stream position, so no table bounds it.
 */
import { LfmkitError } from "../errors.js";
import type { GraphBuilder } from "../onnx/graph.js";
import type { HeadLayout } from "./attention.js";
import { INT64_MAX, ONNX_FLOAT } from "./constants.js";
import type { RotarySpec } from "./rotary.js";

/**
 * RoPE tables for stream positions `offset` … `offset` + S − 1, where offset is an int64 [1] graph
 * value and S the length of `x` [1, S, …]. The angles are rounded to float32 as in `rotaryTables`.
 * Returns the spec for `rope` and the ids [1, S] (0 … S − 1) that index its rows.
 */
export function streamRotary(
  g: GraphBuilder,
  x: string,
  offset: string,
  theta: number,
  headDim: number,
  interleaved: boolean,
): { rotary: RotarySpec; positionIds: string } {
  const inverseFrequencies = Float32Array.from({ length: headDim / 2 }, (_, i) => 1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
  const tokens = g.op1("Squeeze", [g.op1("Shape", [x], { start: 1, end: 2 })]);
  const steps = g.op1("Range", [g.scalar(0), tokens, g.scalar(1)]);
  const positions = g.op1("Cast", [g.op1("Unsqueeze", [g.op1("Add", [steps, offset]), g.constant([1])])], { to: ONNX_FLOAT }); // [S, 1]
  const name = `rope.inv_freq.${theta}.${headDim}`;
  const angles = g.op1("Mul", [positions, g.has(name) ? name : g.weight(name, inverseFrequencies, [1, headDim / 2])]);
  return {
    rotary: { cos: g.op1("Cos", [angles]), sin: g.op1("Sin", [angles]), interleaved },
    positionIds: g.op1("Unsqueeze", [steps, g.constant([0])]),
  };
}

export interface WindowCache {
  /** [KV, P, headDim]: the keys of the P positions before this chunk (P < window). */
  readonly keys: string;
  /** [KV, P, headDim] */
  readonly values: string;
}

/**
 * Additive mask [S, P + S] for S new queries over the P cached keys followed by the S new ones:
 * query s (stream position P + s in these columns) sees column i when 0 ≤ P + s − i < window.
 * Every layer of a chunk shares it.
 */
export function slidingWindowMask(g: GraphBuilder, q: string, window: number, cachedKeys?: string): string {
  const tokens = g.op1("Shape", [q], { start: 1, end: 2 });
  const past = cachedKeys ? g.op1("Shape", [cachedKeys], { start: 1, end: 2 }) : g.constant([0]);
  const scalar = (v: string) => g.op1("Squeeze", [v]);
  const queries = g.op1("Unsqueeze", [g.op1("Range", [scalar(past), scalar(g.op1("Add", [past, tokens])), g.scalar(1)]), g.constant([1])]);
  const columns = g.op1("Unsqueeze", [g.op1("Range", [g.scalar(0), scalar(g.op1("Add", [past, tokens])), g.scalar(1)]), g.constant([0])]);
  const distance = g.op1("Sub", [queries, columns]); // [S, P + S]
  const hidden = g.op1("Or", [g.op1("Less", [distance, g.scalar(0)]), g.op1("GreaterOrEqual", [distance, g.scalar(window)])]);
  return g.op1("Where", [hidden, g.scalar(-Infinity, "float32"), g.scalar(0, "float32")]);
}

export interface SlidingWindowSpec extends HeadLayout {
  /** A query sees itself and the window − 1 positions before it. */
  readonly window: number;
  /** From `slidingWindowMask`, with the same cache. */
  readonly mask: string;
  /** Absent when nothing precedes this chunk. */
  readonly cache?: WindowCache;
}

/**
 * Grouped-query attention of S new positions over the cached ones and themselves, within the window.
 * q: [1, S, H·hd]; k, v: [1, S, KV·hd] (already rotated). Query head j reads KV head floor(j / G),
 * G = H / KV. Returns the output [1, S, H·hd] and the cache for the next chunk: the last
 * min(window − 1, P + S) keys and values, [KV, ·, hd].
 */
export function slidingWindowAttention(g: GraphBuilder, q: string, k: string, v: string, spec: SlidingWindowSpec): { output: string } & WindowCache {
  const { heads, kvHeads, headDim, window, mask, cache } = spec;
  if (heads % kvHeads !== 0) throw new LfmkitError(`${heads} query heads cannot share ${kvHeads} KV heads evenly`);
  const group = heads / kvHeads;
  const headsFirst = (x: string) => g.op1("Transpose", [g.op1("Reshape", [x, g.constant([-1, kvHeads, headDim])])], { perm: [1, 0, 2] }); // [KV, S, hd]
  const withCache = (cached: string | undefined, x: string) => (cached ? g.op1("Concat", [cached, headsFirst(x)], { axis: 1 }) : headsFirst(x));
  const keys = withCache(cache?.keys, k); // [KV, P + S, hd]
  const values = withCache(cache?.values, v);

  const scaled = g.op1("Mul", [q, g.scalar(1 / Math.sqrt(headDim), "float32")]);
  const queries = g.op1("Transpose", [g.op1("Reshape", [scaled, g.constant([-1, kvHeads, group, headDim])])], { perm: [1, 2, 0, 3] }); // [KV, G, S, hd]
  const perKvHead = (x: string) => g.op1("Unsqueeze", [x, g.constant([1])]); // [KV, 1, ·, ·]
  const keysT = perKvHead(g.op1("Transpose", [keys], { perm: [0, 2, 1] }));
  const scores = g.op1("Add", [g.op1("MatMul", [queries, keysT]), mask]); // [KV, G, S, P + S]
  const mixed = g.op1("MatMul", [g.op1("Softmax", [scores], { axis: -1 }), perKvHead(values)]); // [KV, G, S, hd]
  const output = g.op1("Reshape", [g.op1("Transpose", [mixed], { perm: [2, 0, 1, 3] }), g.constant([1, -1, heads * headDim])]);

  const firstKept = window > 1 ? -(window - 1) : INT64_MAX;
  const kept = (x: string) => g.op1("Slice", [x, g.constant([firstKept]), g.constant([INT64_MAX]), g.constant([1])]);
  return { output, keys: kept(keys), values: kept(values) };
}
