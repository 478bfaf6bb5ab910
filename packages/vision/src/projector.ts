/**
 * LFM2-VL multimodal projector (architecture notes §3.6): per tile, its real patches' features as
 * their [rows, columns, D] grid, then
 *
 *   z = pixel_unshuffle(grid, f)               [rows/f, columns/f, f²·D], channels (row offset, column offset, D)
 *   z = LayerNorm(z)                           (eps 1e-5; absent when projector_use_layernorm is false)
 *   tokens = linear_2(act(linear_1(z)))        flattened row-major; tiles one after another
 *
 * The tiles of one image have different grids (tiles and thumbnail), so no single reshape holds them
 * all. Instead their features are gathered onto one canvas [tiles, H, W, D] (H × W the largest grid),
 * patch (r, c) of tile t at cell (r, c) of canvas t, unshuffled together, and only the tokens that lie
 * inside each tile's own grid are gathered for the rest. Both gathers' indices depend on the grids
 * alone, so the runtime computes them (`projectorIndices`).
 */
import { LfmkitError, ops, type GraphBuilder, type LinearSpec, type Weights } from "@lfmkit/core";
import type { ProjectorConfig } from "./vision-config.js";

/** nn.LayerNorm's default: the config has no key for it. */
const LAYER_NORM_EPS = 1e-5;

export const PROJECTOR_PREFIX = "model.multi_modal_projector";

/** The projector's graph inputs. */
export interface ProjectorInputs {
  /** [tiles, H, W] int64: for each canvas cell, its row of the features flattened to [tiles·patches, D]. */
  readonly canvasPatches: string;
  /** [tokens] int64: for each image token, its cell of the unshuffled canvas flattened to [tiles·H/f·W/f]. */
  readonly tokenCells: string;
}

export interface ProjectorIndices {
  readonly canvasPatches: BigInt64Array;
  readonly canvasDims: readonly [tiles: number, height: number, width: number];
  readonly tokenCells: BigInt64Array;
  readonly tokens: number;
}

/** The gather indices for tiles of these patch grids, each padded to `maxPatches` rows. */
export function projectorIndices(patchGrids: readonly (readonly [number, number])[], maxPatches: number, factor: number): ProjectorIndices {
  for (const [rows, columns] of patchGrids) {
    if (rows % factor !== 0 || columns % factor !== 0) {
      throw new LfmkitError(`a ${rows}×${columns} patch grid cannot be pixel-unshuffled by ${factor} (both sides must be multiples)`);
    }
    if (rows * columns > maxPatches) throw new LfmkitError(`a ${rows}×${columns} patch grid does not fit in ${maxPatches} patches`);
  }
  const height = Math.max(...patchGrids.map(([rows]) => rows));
  const width = Math.max(...patchGrids.map(([, columns]) => columns));
  const tiles = patchGrids.length;
  // Cells outside a tile's grid feed only tokens that are never gathered: any row will do.
  const canvasPatches = new BigInt64Array(tiles * height * width);
  const tokenCells: bigint[] = [];
  const [blockRows, blockColumns] = [height / factor, width / factor];
  patchGrids.forEach(([rows, columns], tile) => {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) canvasPatches[(tile * height + r) * width + c] = BigInt(tile * maxPatches + r * columns + c);
    }
    for (let i = 0; i < rows / factor; i++) {
      for (let j = 0; j < columns / factor; j++) tokenCells.push(BigInt((tile * blockRows + i) * blockColumns + j));
    }
  });
  return { canvasPatches, canvasDims: [tiles, height, width], tokenCells: BigInt64Array.from(tokenCells), tokens: tokenCells.length };
}

function projectorLinear(w: Weights, name: string, config: ProjectorConfig, shape: readonly [number, number]): LinearSpec {
  const weight = w.required(`${name}.weight`);
  if (weight.shape.join() !== shape.join()) throw new LfmkitError(`${weight.name} has shape [${weight.shape}], the config says [${shape}]`, w.where);
  return w.asLinear(weight, config.bias ? w.required(`${name}.bias`) : undefined);
}

/** Image tokens [tokens, outputSize] from the tower's output `features` [tiles, patches, towerWidth]. */
export function projector(g: GraphBuilder, features: string, inputs: ProjectorInputs, w: Weights, config: ProjectorConfig, towerWidth: number): string {
  const f = config.downsampleFactor;
  const unshuffledWidth = f * f * towerWidth;
  const canvas = g.op1("Gather", [g.op1("Reshape", [features, g.constant([-1, towerWidth])]), inputs.canvasPatches]); // [tiles, H, W, D]
  const unshuffled = g.op1("Reshape", [ops.pixelUnshuffle(g, canvas, f), g.constant([-1, unshuffledWidth])]);
  let z = g.op1("Gather", [unshuffled, inputs.tokenCells]); // [tokens, f²·D]
  if (config.useLayerNorm) z = ops.layerNorm(g, z, w.required("layer_norm.weight"), w.required("layer_norm.bias"), LAYER_NORM_EPS);
  const first = projectorLinear(w, "linear_1", config, [config.hiddenSize, unshuffledWidth]);
  const second = projectorLinear(w, "linear_2", config, [config.outputSize, config.hiddenSize]);
  return ops.mlp(g, z, first, second, config.hiddenAct);
}
