/** Capacity is allocated in steps of this many positions. */
const CAPACITY_STEP = 128;
/** Headroom left when the cache grows, as a fraction of the positions needed (at least one step). */
const HEADROOM = 1 / 32;

/**
 * One attention layer's key/value cache, laid out as the graph reads it: keys [KV, capacity, headDim] and
 * values transposed, [KV, headDim, capacity]. Rows are appended in place; only growing the capacity
 * moves the rows already cached. Every decode step reads the whole capacity, masked tail included,
 * so the headroom is small: the tail stays within ~3% of the context (one step below 4096
 * positions). Growth is still geometric (×33/32), so the moves copy about 32 positions per token,
 * amortized: under 1% of what each step's attention reads at those lengths.
 */
export class KvCache {
  capacity = 0;
  keys = new Float32Array(0);
  valuesTransposed = new Float32Array(0);

  /** One position of zeros, [KV, 1, headDim] (its transpose holds the same values). */
  private readonly emptySlot: Float32Array;

  constructor(
    private readonly kvHeads: number,
    private readonly headDim: number,
  ) {
    this.emptySlot = new Float32Array(kvHeads * headDim);
  }

  /** Bytes held by the buffers. */
  get bytes(): number {
    return this.keys.byteLength + this.valuesTransposed.byteLength;
  }

  /** Makes room for `needed` positions, keeping the first `kept`. */
  reserve(needed: number, kept: number): void {
    if (needed <= this.capacity) return;
    const headroom = Math.max(CAPACITY_STEP, needed * HEADROOM);
    const capacity = Math.ceil((needed + headroom) / CAPACITY_STEP) * CAPACITY_STEP;
    const old = { capacity: this.capacity, keys: this.keys, valuesTransposed: this.valuesTransposed };
    this.capacity = capacity;
    this.keys = new Float32Array(this.kvHeads * capacity * this.headDim);
    this.valuesTransposed = new Float32Array(this.kvHeads * this.headDim * capacity);
    this.copyRows(old, kept);
  }

  /** Copies the first `count` positions of `source` (any capacity) into this cache's buffers. */
  private copyRows(source: Pick<KvCache, "capacity" | "keys" | "valuesTransposed">, count: number): void {
    const { kvHeads, headDim, capacity } = this;
    for (let h = 0; h < kvHeads; h++) {
      const from = h * source.capacity * headDim;
      this.keys.set(source.keys.subarray(from, from + count * headDim), h * capacity * headDim);
      for (let d = 0; d < headDim; d++) {
        const row = (h * headDim + d) * source.capacity;
        this.valuesTransposed.set(source.valuesTransposed.subarray(row, row + count), (h * headDim + d) * capacity);
      }
    }
  }

  /**
   * What the graph reads after `filled` positions: the buffers and their capacity. Before anything is
   * cached, one masked slot of zeros stands in for the allocated capacity, so a prompt's first chunk
   * computes no products over empty slots. (Not zero slots: ORT's FusedMatMul leaves a product over
   * an empty axis unwritten.)
   */
  readable(filled: number): { keys: Float32Array; valuesTransposed: Float32Array; capacity: number } {
    if (filled > 0) return { keys: this.keys, valuesTransposed: this.valuesTransposed, capacity: this.capacity };
    return { keys: this.emptySlot, valuesTransposed: this.emptySlot, capacity: 1 };
  }

  /** Appends `count` new positions at `at`, from keys / values laid out [KV, count, headDim]. */
  append(at: number, newKeys: Float32Array, newValues: Float32Array, count: number): void {
    const { kvHeads, headDim, capacity } = this;
    for (let h = 0; h < kvHeads; h++) {
      const from = h * count * headDim;
      this.keys.set(newKeys.subarray(from, from + count * headDim), (h * capacity + at) * headDim);
      for (let t = 0; t < count; t++) {
        for (let d = 0; d < headDim; d++) {
          this.valuesTransposed[(h * headDim + d) * capacity + at + t] = newValues[from + t * headDim + d];
        }
      }
    }
  }
}
