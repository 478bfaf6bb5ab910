/**
 * Where an image's pixels go, from its size and the processor settings alone: the smart resize, the
 * decision to tile, the tile grid, and the patch grid and token count of every tile. The arithmetic
 * follows Lfm2VlImageProcessorFast step for step in IEEE doubles, as Python computes it.
 */
import { LfmkitError } from "@lfmkit/core";
import { pythonSetOrder } from "./python-set-order.js";
import type { ImageProcessorSettings } from "./settings.js";

export interface Size {
  readonly width: number;
  readonly height: number;
}

/** One image the vision encoder sees: a tile, the thumbnail, or the whole image resized. */
export interface TileLayout {
  readonly kind: "tile" | "thumbnail" | "whole";
  readonly width: number;
  readonly height: number;
  /** Where a tile's pixels start in the image resized to the whole grid (0 for the others). */
  readonly left: number;
  readonly top: number;
  readonly patchRows: number;
  readonly patchColumns: number;
  /** Encoder outputs after the projector's pixel-unshuffle. */
  readonly tokenCount: number;
}

export interface ImageLayout {
  readonly source: Size;
  /** The smart-resize size: the whole image when not tiled, the thumbnail when tiled. */
  readonly resized: Size;
  /** The tile grid (columns × rows) when the image is tiled; absent for a single resized image. */
  readonly grid: { readonly columns: number; readonly rows: number } | undefined;
  /** The size the whole image is resized to before it is cut into tiles. */
  readonly gridSize: Size | undefined;
  /** In encoder order: tiles row by row, then the thumbnail. */
  readonly tiles: readonly TileLayout[];
  /** Patch slots per tile in `pixel_values`; unused slots are zero and masked out. */
  readonly maxPatches: number;
}

/** Python's `round(n / k) * k`: the quotient rounded half to even. */
export function roundByFactor(n: number, k: number): number {
  const q = n / k;
  const floor = Math.floor(q);
  const fraction = q - floor;
  const rounded = fraction > 0.5 || (fraction === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
  return rounded * k;
}

/** The size that keeps the aspect ratio, has sides divisible by patch × downsample and a token count in range. */
export function smartResize(source: Size, settings: ImageProcessorSettings): Size {
  const { height, width } = source;
  const factor = settings.encoderPatchSize * settings.downsampleFactor;
  const pixelsPerToken = factor * factor;
  const minPixels = settings.minImageTokens * pixelsPerToken;
  const maxPixels = settings.maxImageTokens * pixelsPerToken;
  let h = Math.max(factor, roundByFactor(height, factor));
  let w = Math.max(factor, roundByFactor(width, factor));
  if (h * w > maxPixels) {
    const beta = Math.sqrt((height * width) / maxPixels);
    h = Math.max(factor, Math.floor(height / beta / factor) * factor);
    w = Math.max(factor, Math.floor(width / beta / factor) * factor);
  } else if (h * w < minPixels) {
    const beta = Math.sqrt(minPixels / (height * width));
    h = Math.ceil((height * beta) / factor) * factor;
    w = Math.ceil((width * beta) / factor) * factor;
  }
  return { width: w, height: h };
}

/** Whether the image holds too many pixels for one encoder pass, with the configured tolerance. */
export function isImageTooLarge(source: Size, settings: ImageProcessorSettings): boolean {
  const p = settings.encoderPatchSize;
  const factor = p * settings.downsampleFactor;
  // The reference clamps to the patch size here, not to patch × downsample as in smartResize.
  const h = Math.max(p, roundByFactor(source.height, factor));
  const w = Math.max(p, roundByFactor(source.width, factor));
  return h * w > settings.maxImageTokens * factor * factor * settings.maxPixelsTolerance;
}

/** Candidate grids (columns, rows) with a tile count in range, in the reference's order. */
export function gridCandidates(minTiles: number, maxTiles: number): [number, number][] {
  const pairs: [number, number][] = [];
  for (let n = minTiles; n <= maxTiles; n++) {
    for (let columns = 1; columns <= n; columns++) {
      for (let rows = 1; rows <= n; rows++) {
        if (columns * rows >= minTiles && columns * rows <= maxTiles) pairs.push([columns, rows]);
      }
    }
  }
  return pythonSetOrder(pairs).sort((a, b) => a[0] * a[1] - b[0] * b[1]);
}

/**
 * The grid whose aspect ratio is closest to the image's; on an exact tie the later candidate wins
 * when the image covers more than half of its tiles' area.
 */
export function chooseGrid(source: Size, settings: ImageProcessorSettings): { columns: number; rows: number } {
  const aspect = source.width / source.height;
  const area = source.width * source.height;
  let best: [number, number] = [1, 1];
  let bestDiff = Infinity;
  for (const candidate of gridCandidates(settings.minTiles, settings.maxTiles)) {
    const diff = Math.abs(aspect - candidate[0] / candidate[1]);
    if (diff < bestDiff) {
      bestDiff = diff;
      best = candidate;
    } else if (diff === bestDiff && area > 0.5 * settings.tileSize * settings.tileSize * candidate[0] * candidate[1]) {
      best = candidate;
    }
  }
  return { columns: best[0], rows: best[1] };
}

/** The tile grid, per-tile patch grids and token counts for an image of this size; no pixels involved. */
export function imageLayout(size: Size, settings: ImageProcessorSettings): ImageLayout {
  const source = { width: size.width, height: size.height };
  if (!(Number.isInteger(source.width) && Number.isInteger(source.height) && source.width > 0 && source.height > 0)) {
    throw new LfmkitError(`image size must be positive integers, got ${source.width}×${source.height}`);
  }
  const { minTiles, maxTiles, tileSize } = settings;
  const splitting = settings.doImageSplitting && !(minTiles === 1 && maxTiles === 1);
  const resized = smartResize(source, settings);
  const maxPatches = maxPatchesPerTile(settings);

  if (!(splitting && isImageTooLarge(source, settings))) {
    const tiles = [tileLayout("whole", resized, 0, 0, settings)];
    checkPatchCounts(source, tiles, maxPatches);
    return { source, resized, grid: undefined, gridSize: undefined, tiles, maxPatches };
  }
  const grid = chooseGrid(source, settings);
  const tiles: TileLayout[] = [];
  for (let row = 0; row < grid.rows; row++) {
    for (let column = 0; column < grid.columns; column++) {
      tiles.push(tileLayout("tile", { width: tileSize, height: tileSize }, column * tileSize, row * tileSize, settings));
    }
  }
  if (settings.useThumbnail && grid.columns * grid.rows !== 1) tiles.push(tileLayout("thumbnail", resized, 0, 0, settings));
  checkPatchCounts(source, tiles, maxPatches);
  const gridSize = { width: grid.columns * tileSize, height: grid.rows * tileSize };
  return { source, resized, grid, gridSize, tiles, maxPatches };
}

/** Image tokens per tile/image of this size: ceil(patches / downsample) along each side. */
export function tokensForSize(size: Size, settings: ImageProcessorSettings): number {
  const { encoderPatchSize: p, downsampleFactor: f } = settings;
  return Math.ceil(Math.floor(size.height / p) / f) * Math.ceil(Math.floor(size.width / p) / f);
}

function tileLayout(kind: TileLayout["kind"], size: Size, left: number, top: number, settings: ImageProcessorSettings): TileLayout {
  const p = settings.encoderPatchSize;
  return {
    kind,
    width: size.width,
    height: size.height,
    left,
    top,
    patchRows: Math.floor(size.height / p),
    patchColumns: Math.floor(size.width / p),
    tokenCount: tokensForSize(size, settings),
  };
}

/** Very elongated images get a smart-resize size with more patches than the encoder's slots. */
function checkPatchCounts(source: Size, tiles: readonly TileLayout[], maxPatches: number): void {
  for (const tile of tiles) {
    const patches = tile.patchRows * tile.patchColumns;
    if (patches > maxPatches) {
      throw new LfmkitError(
        `a ${source.width}×${source.height} image is too elongated: its ${tile.width}×${tile.height} ${tile.kind} has ${patches} patches, more than the ${maxPatches} the encoder takes`,
      );
    }
  }
}

/** max(max_image_tokens · downsample², (tile_size / patch)² when splitting), as the reference pads. */
function maxPatchesPerTile(settings: ImageProcessorSettings): number {
  const wholeImagePatches = settings.maxImageTokens * settings.downsampleFactor ** 2;
  const tilePatches = settings.doImageSplitting ? Math.floor(settings.tileSize / settings.encoderPatchSize) ** 2 : 0;
  return Math.max(wholeImagePatches, tilePatches);
}
