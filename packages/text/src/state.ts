import { KvCache } from "@lfmkit/core";
import type { Lfm2Config } from "./config.js";

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

  /** Bytes held by the conv states and caches. */
  get bytes(): number {
    let total = 0;
    for (const conv of this.convStates.values()) total += conv.byteLength;
    for (const cache of this.caches.values()) total += cache.bytes;
    return total;
  }
}
