import { KvCache, LfmkitError } from "@lfmkit/core";
import type { Lfm2Config } from "./config.js";

/**
 * A point a state can go back to: its position then, and its conv states then. The cached rows
 * before that position never change afterwards, so they need no copy.
 */
export interface StateMark {
  readonly position: number;
  readonly convStates: ReadonlyMap<number, Float32Array>;
}

/**
 * Everything a sequence carries between forward passes: the number of positions seen, the cache of
 * every attention layer and the conv state of every conv layer.
 */
export class DecoderState {
  private constructor(
    public position: number,
    readonly convStates: Map<number, Float32Array>,
    readonly caches: Map<number, KvCache>,
  ) {}

  /** The state before any position. */
  static empty(config: Lfm2Config): DecoderState {
    const state = new DecoderState(0, new Map(), new Map());
    config.layerTypes.forEach((type, layer) => {
      if (type === "conv") state.convStates.set(layer, new Float32Array((config.convKernel - 1) * config.hiddenSize));
      else state.caches.set(layer, new KvCache(config.kvHeads, config.headDim));
    });
    return state;
  }

  /**
   * The current point, to `rewind` to later. Conv states are replaced by every forward pass, never
   * written in place, so the mark holds them by reference.
   */
  mark(): StateMark {
    return { position: this.position, convStates: new Map(this.convStates) };
  }

  /**
   * Goes back to `mark`, taken from this state: the positions after it are forgotten (their cached
   * rows are overwritten as new positions come).
   */
  rewind(mark: StateMark): void {
    if (mark.position > this.position) throw new LfmkitError(`cannot rewind a state at position ${this.position} forward to ${mark.position}`);
    this.position = mark.position;
    for (const [layer, conv] of mark.convStates) this.convStates.set(layer, conv);
  }

  /** Bytes held by the conv states and caches. */
  get bytes(): number {
    let total = 0;
    for (const conv of this.convStates.values()) total += conv.byteLength;
    for (const cache of this.caches.values()) total += cache.bytes;
    return total;
  }
}
