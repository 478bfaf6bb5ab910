import { KvCache } from "@lfmkit/core";
import type { Lfm2Config } from "./config.js";

/**
 * Everything a sequence carries between forward passes: the number of positions seen, the cache of
 * every attention layer and the conv state of every conv layer.
 */
export class DecoderState {
  position = 0;
  readonly convStates = new Map<number, Float32Array>();
  readonly caches = new Map<number, KvCache>();

  constructor(config: Lfm2Config) {
    config.layerTypes.forEach((type, layer) => {
      if (type === "conv") {
        this.convStates.set(layer, new Float32Array((config.convKernel - 1) * config.hiddenSize));
      } else {
        this.caches.set(layer, new KvCache(config.kvHeads, config.headDim));
      }
    });
  }
}
