import { describe, expect, test } from "vitest";
import { KvCache } from "../src/index.js";

const kvHeads = 2;
const headDim = 3;

/** Keys / values for `count` positions from `at`, [KV, count, hd], each value naming its head, position and dim. */
function rows(at: number, count: number, offset: number): Float32Array {
  const out = new Float32Array(kvHeads * count * headDim);
  for (let h = 0; h < kvHeads; h++) {
    for (let t = 0; t < count; t++) {
      for (let d = 0; d < headDim; d++) out[(h * count + t) * headDim + d] = offset + h * 1e6 + (at + t) * 10 + d;
    }
  }
  return out;
}

describe("KvCache", () => {
  test("keeps every appended position in place across growth, in both layouts", () => {
    const cache = new KvCache(kvHeads, headDim);
    let filled = 0;
    for (const count of [5, 1, 1, 200, 1, 3000, 1]) {
      cache.reserve(filled + count, filled);
      cache.append(filled, rows(filled, count, 0), rows(filled, count, 0.5), count);
      filled += count;
    }
    const { capacity } = cache;
    for (let h = 0; h < kvHeads; h++) {
      for (let t = 0; t < filled; t++) {
        for (let d = 0; d < headDim; d++) {
          const key = h * 1e6 + t * 10 + d;
          expect(cache.keys[(h * capacity + t) * headDim + d]).toBe(key);
          expect(cache.valuesTransposed[(h * headDim + d) * capacity + t]).toBe(key + 0.5);
        }
      }
    }
  });

  test("before anything is cached the graph reads one slot of zeros, then the allocated buffers", () => {
    const cache = new KvCache(kvHeads, headDim);
    cache.reserve(300, 0);
    const empty = cache.readable(0);
    expect(empty.capacity).toBe(1);
    expect([...empty.keys]).toEqual(new Array(kvHeads * headDim).fill(0));
    expect([...empty.valuesTransposed]).toEqual(new Array(kvHeads * headDim).fill(0));
    cache.append(0, rows(0, 5, 0), rows(0, 5, 0.5), 5);
    const filled = cache.readable(5);
    expect(filled.capacity).toBe(cache.capacity);
    expect(filled.keys).toBe(cache.keys);
    expect(filled.valuesTransposed).toBe(cache.valuesTransposed);
  });

  test.each([1, 127, 128, 129, 700, 4096, 20_000])("capacity for %i positions has a short tail", (needed) => {
    const cache = new KvCache(kvHeads, headDim);
    cache.reserve(needed, 0);
    expect(cache.capacity % 128).toBe(0);
    expect(cache.capacity).toBeGreaterThan(needed);
    // The headroom is one 128-position step or 1/32 of the need, whichever is more, rounded up to a step.
    expect(cache.capacity - needed).toBeLessThanOrEqual(Math.max(128, needed / 32) + 128);
  });
});
