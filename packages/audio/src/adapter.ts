/**
 * LFM2-Audio's audio adapter (architecture notes §4.3), liquid-audio's `MLP` as `audio_adapter`:
 * conformer frames [.., hidden] to LFM embeddings [.., D_lfm].
 *
 *   y = model.3( GELU( model.1( LayerNorm_model.0(x) ) ) )      GELU exact (erf)
 */
import { LfmkitError, ops, type GraphBuilder, type LinearSpec, type Weights } from "@lfmkit/core";

export const AUDIO_ADAPTER_PREFIX = "audio_adapter.model";

/** nn.LayerNorm's default: the config has no key for it. */
const LAYER_NORM_EPS = 1e-5;

/** The adapter's output width (the LFM hidden size), read from its weights. */
export function adapterWidth(w: Weights): number {
  return w.required("3.weight").shape[0];
}

function adapterLinear(w: Weights, name: string, inFeatures: number): LinearSpec {
  const spec = w.linear(name);
  if (spec.weight.shape[1] !== inFeatures) {
    throw new LfmkitError(`${spec.weight.name} has shape [${spec.weight.shape}], expected ${inFeatures} input features`, w.where);
  }
  return spec;
}

/** `w` is scoped to `AUDIO_ADAPTER_PREFIX`; x: [.., inputWidth]. */
export function audioAdapter(g: GraphBuilder, x: string, w: Weights, inputWidth: number): string {
  const normed = ops.layerNorm(g, x, w.required("0.weight"), w.required("0.bias"), LAYER_NORM_EPS);
  const first = adapterLinear(w, "1", inputWidth);
  return ops.mlp(g, normed, first, adapterLinear(w, "3", first.weight.shape[0]), "gelu");
}
