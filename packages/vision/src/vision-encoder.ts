/**
 * The LFM2-VL image encoder: pixel patches of every tile of an image in, its image tokens out
 * ([tokens, text hidden], what replaces the `<image>` positions of the prompt).
 *
 * Tower and projector are one graph, so an image is one session call and the tower's output never
 * leaves ONNX Runtime. What differs between tiles (the patch grid) reaches the graph as inputs
 * computed here: the resized position embeddings and the projector's gather indices; nothing about
 * a grid is built into the graph, so one cached graph serves every image.
 */
import { Checkpoint, graphLoadOptionsSchema, GraphModel, LfmkitError, linearPrecision, ort, Weights, type CachedGraph, type GraphBuilder, type WeightFormat } from "@lfmkit/core";
import { z } from "zod";
import { PositionGrid } from "./position-grid.js";
import { PROJECTOR_PREFIX, projector, projectorIndices } from "./projector.js";
import { siglip2Tower, towerPrefix } from "./siglip2.js";
import { readVisionConfig, type VisionConfig } from "./vision-config.js";

/** Bumped whenever the graph a checkpoint builds to changes, so stale cache entries are not reused. */
const GRAPH_VERSION = 1;

/** Names of the graph's inputs and outputs, shared by the builder and the runtime. */
const io = {
  pixelValues: "pixel_values",
  pixelAttentionMask: "pixel_attention_mask",
  positionEmbeddings: "position_embeddings",
  canvasPatches: "canvas_patches",
  tokenCells: "token_cells",
  imageFeatures: "image_features",
};

export const visionLoadOptionsSchema = graphLoadOptionsSchema;

export type VisionLoadOptions = z.input<typeof visionLoadOptionsSchema>;

/** Images as the processor lays them out (a `PixelBatch`): `tiles` tiles of `maxPatches` patch slots each. */
export interface VisionInput {
  /** [tiles, maxPatches, channels·p·p], each patch flattened (row, column, channel). */
  readonly pixelValues: Float32Array;
  /** [tiles, maxPatches]: 1 for the real patches (the first rows·columns of each tile), 0 for padding. */
  readonly pixelAttentionMask: ArrayLike<number>;
  /** [tiles, 2]: the patch rows and columns of each tile. */
  readonly spatialShapes: ArrayLike<number>;
  readonly tiles: number;
  readonly maxPatches: number;
}

export interface ImageFeatures {
  /** [tokens, text hidden]: the tiles' tokens one after another, in tile order. */
  readonly features: Float32Array;
  readonly tokens: number;
}

function buildVisionEncoder(g: GraphBuilder, config: VisionConfig, tower: Weights, projectorWeights: Weights): void {
  const { hiddenSize, channels, patchSize } = config.tower;
  const features = siglip2Tower(
    g,
    {
      pixelValues: g.input(io.pixelValues, "float32", ["tiles", "patches", channels * patchSize ** 2]),
      patchMask: g.input(io.pixelAttentionMask, "int64", ["tiles", "patches"]),
      positionEmbeddings: g.input(io.positionEmbeddings, "float32", ["tiles", "patches", hiddenSize]),
    },
    tower,
    config.tower,
  );
  const projectorInputs = {
    canvasPatches: g.input(io.canvasPatches, "int64", ["tiles", "height", "width"]),
    tokenCells: g.input(io.tokenCells, "int64", ["tokens"]),
  };
  const tokens = projector(g, features, projectorInputs, projectorWeights, config.projector, hiddenSize);
  g.output(tokens, io.imageFeatures, "float32", ["tokens", config.projector.outputSize]);
}

/** The learned position grid, checked against the config. */
function readPositionGrid(tower: Weights, config: VisionConfig): PositionGrid {
  const { positionGridSide: side, hiddenSize } = config.tower;
  const weight = tower.required("embeddings.position_embedding.weight");
  if (weight.shape.join() !== [side * side, hiddenSize].join()) {
    throw new LfmkitError(`${weight.name} has shape [${weight.shape}], the config says [${side * side}, ${hiddenSize}]`, tower.where);
  }
  return new PositionGrid(weight.read(), side, hiddenSize);
}

/** An LFM2-VL vision tower and projector loaded from a Hugging Face folder and executed by ONNX Runtime. */
export class VisionEncoder {
  private constructor(
    readonly config: VisionConfig,
    readonly weightFormat: WeightFormat,
    private readonly runtime: GraphModel,
    private readonly positions: PositionGrid,
  ) {}

  static async load(dir: string, options: VisionLoadOptions = {}): Promise<VisionEncoder> {
    const settings = visionLoadOptionsSchema.parse(options);
    const config = readVisionConfig(dir);
    const checkpoint = Checkpoint.open(dir);
    const precision = linearPrecision(settings);
    const weights = new Weights(
      (name) => checkpoint.source(name),
      dir,
      precision,
    );
    const tower = weights.scope(towerPrefix((name) => checkpoint.has(name), dir));
    const positions = readPositionGrid(tower, config);
    const runtime = await GraphModel.load({
      graph: "lfm2-vl-vision",
      version: GRAPH_VERSION,
      key: { config, precision },
      files: checkpoint.files,
      name: `lfm2-vl-vision-${settings.weightFormat}`,
      cacheDir: settings.cacheDir,
      threads: settings.threads,
      build: (g) => buildVisionEncoder(g, config, tower, weights.scope(PROJECTOR_PREFIX)),
    });
    return new VisionEncoder(config, settings.weightFormat, runtime, positions);
  }

  /** The graph file this encoder runs, and whether this load built it (false: reused from the cache). */
  get graph(): CachedGraph {
    return this.runtime.graph;
  }

  /** The image tokens of all tiles, in one session call. */
  async encode(input: VisionInput): Promise<ImageFeatures> {
    const { tiles, maxPatches } = input;
    const { channels, patchSize } = this.config.tower;
    const patchWidth = channels * patchSize ** 2;
    const patchGrids = checkInput(input, patchWidth);
    const indices = projectorIndices(patchGrids, maxPatches, this.config.projector.downsampleFactor);
    const out = await this.runtime.run({
      [io.pixelValues]: new ort.Tensor("float32", input.pixelValues, [tiles, maxPatches, patchWidth]),
      [io.pixelAttentionMask]: new ort.Tensor("int64", BigInt64Array.from(input.pixelAttentionMask, (m) => (m ? 1n : 0n)), [tiles, maxPatches]),
      [io.positionEmbeddings]: new ort.Tensor("float32", this.positions.forTiles(patchGrids, maxPatches), [tiles, maxPatches, this.positions.width]),
      [io.canvasPatches]: new ort.Tensor("int64", indices.canvasPatches, [...indices.canvasDims]),
      [io.tokenCells]: new ort.Tensor("int64", indices.tokenCells, [indices.tokens]),
    });
    return { features: out[io.imageFeatures].data as Float32Array, tokens: indices.tokens };
  }

  dispose(): Promise<void> {
    return this.runtime.dispose();
  }
}

/**
 * Each tile's patch grid (rows, columns), once the sizes agree and each tile's mask counts exactly
 * its grid's patches (the reference unpads by that count).
 */
function checkInput(input: VisionInput, patchWidth: number): [number, number][] {
  const { tiles, maxPatches, spatialShapes, pixelValues, pixelAttentionMask } = input;
  if (!Number.isInteger(tiles) || tiles < 1 || !Number.isInteger(maxPatches) || maxPatches < 1) {
    throw new LfmkitError(`tiles and maxPatches must be positive integers, got ${tiles} and ${maxPatches}`);
  }
  if (spatialShapes.length !== 2 * tiles) throw new LfmkitError(`spatialShapes has ${spatialShapes.length} values, [${tiles}, 2] needs ${2 * tiles}`);
  if (pixelValues.length !== tiles * maxPatches * patchWidth) {
    throw new LfmkitError(`pixelValues has ${pixelValues.length} values, [${tiles}, ${maxPatches}, ${patchWidth}] needs ${tiles * maxPatches * patchWidth}`);
  }
  if (pixelAttentionMask.length !== tiles * maxPatches) {
    throw new LfmkitError(`pixelAttentionMask has ${pixelAttentionMask.length} values, [${tiles}, ${maxPatches}] needs ${tiles * maxPatches}`);
  }
  return Array.from({ length: tiles }, (_, tile) => {
    const [rows, columns] = [spatialShapes[2 * tile], spatialShapes[2 * tile + 1]];
    let real = 0;
    for (let i = tile * maxPatches; i < (tile + 1) * maxPatches; i++) if (pixelAttentionMask[i]) real++;
    if (real !== rows * columns) throw new LfmkitError(`tile ${tile} has ${real} real patches in its mask but a ${rows}×${columns} grid`);
    return [rows, columns];
  });
}
