import type { Lfm2Config } from "./config.js";

const INITIAL_CAPACITY = 256;

/** The cached keys or values of one KV head: rows of headDim floats, grown by doubling. */
class HeadCache {
  private rows: Float32Array;

  constructor(private readonly headDim: number) {
    this.rows = new Float32Array(INITIAL_CAPACITY * headDim);
  }

  /** The first `length` rows, as a view (no copy). */
  view(length: number): Float32Array {
    return this.rows.subarray(0, length * this.headDim);
  }

  /** Writes `source` (count rows) at row `at`, growing the buffer when needed. */
  write(at: number, source: Float32Array, offset: number, count: number): void {
    const needed = (at + count) * this.headDim;
    if (needed > this.rows.length) {
      const grown = new Float32Array(Math.max(needed, this.rows.length * 2));
      grown.set(this.rows.subarray(0, at * this.headDim));
      this.rows = grown;
    }
    this.rows.set(source.subarray(offset, offset + count * this.headDim), at * this.headDim);
  }
}

/**
 * Everything a sequence carries between forward passes: the number of positions seen, a KV cache
 * per attention layer (one buffer per KV head) and a conv state per conv layer.
 */
export class DecoderState {
  position = 0;
  readonly convStates = new Map<number, Float32Array>();
  readonly keys = new Map<number, HeadCache[]>();
  readonly values = new Map<number, HeadCache[]>();

  constructor(config: Lfm2Config) {
    config.layerTypes.forEach((type, layer) => {
      if (type === "conv") {
        this.convStates.set(layer, new Float32Array((config.convKernel - 1) * config.hiddenSize));
      } else {
        const heads = () => Array.from({ length: config.kvHeads }, () => new HeadCache(config.headDim));
        this.keys.set(layer, heads());
        this.values.set(layer, heads());
      }
    });
  }
}
