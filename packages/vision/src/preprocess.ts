/**
 * RGB pixels → the encoder's inputs, as Lfm2VlImageProcessorFast: resize (and tile), rescale and
 * normalize, cut into p×p patches, pad every tile's patch list to the same length.
 */
import { imageLayout, type ImageLayout, type TileLayout } from "./layout.js";
import type { RgbImage } from "./image.js";
import { resizeRgb } from "./resize.js";
import type { ImageProcessorSettings } from "./settings.js";

/** Encoder inputs for one or more images, tiles of all images in order. */
export interface PixelBatch {
  readonly tiles: number;
  readonly maxPatches: number;
  /** 3·p·p: one patch flattened in (row, column, channel) order. */
  readonly patchDim: number;
  /** [tiles, maxPatches, patchDim]; padding patches are zero. */
  readonly pixelValues: Float32Array;
  /** [tiles, maxPatches]: 1 for a real patch, 0 for padding. */
  readonly pixelAttentionMask: Int32Array;
  /** [tiles, 2]: patch rows and patch columns of each tile. */
  readonly spatialShapes: Int32Array;
}

export interface PreprocessedImages {
  readonly batch: PixelBatch;
  /** One per image, in order: what the prompt expansion needs. */
  readonly layouts: readonly ImageLayout[];
}

/** Preprocesses images for one prompt; their tiles are concatenated in image order. */
export function preprocessImages(images: readonly RgbImage[], settings: ImageProcessorSettings): PreprocessedImages {
  const layouts = images.map((image) => imageLayout({ width: image.width, height: image.height }, settings));
  const maxPatches = layouts[0]?.maxPatches ?? 0;
  const patchDim = 3 * settings.encoderPatchSize ** 2;
  const tiles = layouts.reduce((n, layout) => n + layout.tiles.length, 0);
  const batch: PixelBatch = {
    tiles,
    maxPatches,
    patchDim,
    pixelValues: new Float32Array(tiles * maxPatches * patchDim),
    pixelAttentionMask: new Int32Array(tiles * maxPatches),
    spatialShapes: new Int32Array(tiles * 2),
  };
  const toModelRange = channelTables(settings);
  let tileIndex = 0;
  for (let i = 0; i < images.length; i++) {
    const layout = layouts[i];
    const grid = layout.gridSize ? resizeRgb(images[i], layout.gridSize) : undefined;
    for (const tile of layout.tiles) {
      // The thumbnail or the whole image comes once per image; tiles share the grid-sized resize.
      const source = tile.kind === "tile" ? grid! : resizeRgb(images[i], layout.resized);
      writeTile(batch, tileIndex++, tile, source, toModelRange, settings.encoderPatchSize);
    }
  }
  return { batch, layouts };
}

/** Preprocesses one image. */
export function preprocessImage(image: RgbImage, settings: ImageProcessorSettings): PreprocessedImages {
  return preprocessImages([image], settings);
}

/** Per channel, the float each byte value becomes after rescale and normalize. */
function channelTables(settings: ImageProcessorSettings): Float32Array[] {
  return [0, 1, 2].map((c) => {
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) {
      let x = settings.doRescale ? v * settings.rescaleFactor : v;
      if (settings.doNormalize) x = (x - settings.imageMean[c]) / settings.imageStd[c];
      table[v] = x;
    }
    return table;
  });
}

/** Cuts one tile of `source` into patches (row-major over the patch grid) and marks them real. */
function writeTile(batch: PixelBatch, index: number, tile: TileLayout, source: RgbImage, toModelRange: Float32Array[], p: number): void {
  const patches = tile.patchRows * tile.patchColumns;
  batch.spatialShapes.set([tile.patchRows, tile.patchColumns], 2 * index);
  batch.pixelAttentionMask.fill(1, index * batch.maxPatches, index * batch.maxPatches + patches);
  let out = index * batch.maxPatches * batch.patchDim;
  for (let patchRow = 0; patchRow < tile.patchRows; patchRow++) {
    for (let patchColumn = 0; patchColumn < tile.patchColumns; patchColumn++) {
      for (let y = 0; y < p; y++) {
        let pixel = ((tile.top + patchRow * p + y) * source.width + tile.left + patchColumn * p) * 3;
        for (let x = 0; x < p; x++, pixel += 3) {
          batch.pixelValues[out++] = toModelRange[0][source.data[pixel]];
          batch.pixelValues[out++] = toModelRange[1][source.data[pixel + 1]];
          batch.pixelValues[out++] = toModelRange[2][source.data[pixel + 2]];
        }
      }
    }
  }
}
