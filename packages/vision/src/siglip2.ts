/**
 * SigLIP2-NaFlex vision tower (architecture notes §3.5), every tile of an image one sequence of a
 * batch: [tiles, max_patches, 3·p·p] in, [tiles, max_patches, D] out, whatever each tile's grid.
 *
 *   x = patch_embedding(pixel_values) + position_embeddings     (a Linear over flattened patches)
 *   for each encoder layer:
 *     x = x + out_proj(attention(LN1(x)))     bidirectional; padded patches masked out as keys
 *     x = x + fc2(act(fc1(LN2(x))))
 *   x = post_layernorm(x)
 *
 * The position embeddings are the learned grid resized to each tile's patch grid: they depend only
 * on the grid, so the runtime resizes them (position-grid.ts) and feeds them as an input. Rows past
 * a tile's patches are padding: their outputs are meaningless and never read.
 */
import { LfmkitError, ops, type GraphBuilder, type Weights } from "@lfmkit/core";
import type { VisionTowerConfig } from "./vision-config.js";

/** The tower's graph inputs. */
export interface TowerInputs {
  /** [tiles, patches, channels·p·p], each patch flattened (row, column, channel). */
  readonly pixelValues: string;
  /** [tiles, patches] int64: 1 for real patches, 0 for padding. */
  readonly patchMask: string;
  /** [tiles, patches, D]: the resized position grid of each tile. */
  readonly positionEmbeddings: string;
}

/** The tower's weight prefix as transformers 5 saves it, and as the released LFM2-VL files name it (notes §3.1). */
const TOWER_PREFIXES = ["model.vision_tower", "model.vision_tower.vision_model"] as const;

/** The prefix under which `has` finds the tower's patch embedding. */
export function towerPrefix(has: (name: string) => boolean, where: string): string {
  const found = TOWER_PREFIXES.find((prefix) => has(`${prefix}.embeddings.patch_embedding.weight`));
  if (!found) throw new LfmkitError(`no vision tower weights (looked for ${TOWER_PREFIXES.map((p) => `${p}.embeddings.*`).join(", ")})`, where);
  return found;
}

function patchEmbedding(g: GraphBuilder, inputs: TowerInputs, w: Weights, config: VisionTowerConfig): string {
  const spec = w.linear("patch_embedding");
  const expected = [config.hiddenSize, config.channels * config.patchSize ** 2];
  if (spec.weight.shape.join() !== expected.join()) {
    throw new LfmkitError(`${spec.weight.name} has shape [${spec.weight.shape}], the config says [${expected}]`, w.where);
  }
  return g.op1("Add", [ops.linear(g, inputs.pixelValues, spec), inputs.positionEmbeddings]);
}

function selfAttention(g: GraphBuilder, x: string, w: Weights, config: VisionTowerConfig, keyBias: string): string {
  const project = (name: string) => ops.linear(g, x, w.linear(name));
  const layout = { heads: config.heads, kvHeads: config.heads, headDim: config.headDim };
  const mixed = ops.bidirectionalAttention(g, project("q_proj"), project("k_proj"), project("v_proj"), layout, keyBias);
  return ops.linear(g, mixed, w.linear("out_proj"));
}

function encoderLayer(g: GraphBuilder, x: string, w: Weights, config: VisionTowerConfig, keyBias: string): string {
  const norm = (name: string, input: string) => ops.layerNorm(g, input, w.required(`${name}.weight`), w.required(`${name}.bias`), config.layerNormEps);
  x = g.op1("Add", [x, selfAttention(g, norm("layer_norm1", x), w.scope("self_attn"), config, keyBias)]);
  return g.op1("Add", [x, ops.mlp(g, norm("layer_norm2", x), w.linear("mlp.fc1"), w.linear("mlp.fc2"), config.hiddenAct)]);
}

/** The tower's output, [tiles, patches, D]; `w` is scoped to the tower's prefix (its `head.*` is unused). */
export function siglip2Tower(g: GraphBuilder, inputs: TowerInputs, w: Weights, config: VisionTowerConfig): string {
  let x = patchEmbedding(g, inputs, w.scope("embeddings"), config);
  const keyBias = ops.keyPaddingBias(g, inputs.patchMask);
  for (let layer = 0; layer < config.layers; layer++) {
    x = encoderLayer(g, x, w.scope(`encoder.layers.${layer}`), config, keyBias);
  }
  return ops.layerNorm(g, x, w.required("post_layernorm.weight"), w.required("post_layernorm.bias"), config.layerNormEps);
}
