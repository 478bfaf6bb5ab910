/**
 * Prompt expansion as Lfm2VlProcessor does it: each `<image>` placeholder of the chat prompt becomes
 * the image's token sequence. Works on the prompt text; the special tokens are plain strings here.
 */
import { LfmkitError } from "@lfmkit/core";
import { tokensForSize, type ImageLayout } from "./layout.js";
import type { ImageProcessorSettings } from "./settings.js";

export const IMAGE_TOKEN = "<image>";
export const IMAGE_START_TOKEN = "<|image_start|>";
export const IMAGE_END_TOKEN = "<|image_end|>";
export const IMAGE_THUMBNAIL_TOKEN = "<|img_thumbnail|>";

export function tileMarker(row: number, column: number): string {
  return `<|img_row_${row}_col_${column}|>`;
}

/**
 * The text that replaces one image's placeholder:
 * `<|image_start|>` [per tile: marker + tile tokens] [`<|img_thumbnail|>` + thumbnail tokens] `<|image_end|>`,
 * or start + the resized image's tokens + end when the image is not tiled.
 */
export function imageTokenText(layout: ImageLayout, settings: ImageProcessorSettings): string {
  const special = settings.useImageSpecialTokens;
  const parts: string[] = [];
  if (special) parts.push(IMAGE_START_TOKEN);
  // The reference counts these from the settings and the smart-resize size, not from the tiles.
  const tileTokens = tokensForSize({ width: settings.tileSize, height: settings.tileSize }, settings);
  const resizedTokens = tokensForSize(layout.resized, settings);
  const grid = layout.grid ?? { columns: 1, rows: 1 };
  if (grid.columns > 1 || grid.rows > 1) {
    // Tiles are labelled by their true row and column. Older transformers swapped the two (a grid
    // 2 wide and 1 high gave row_1_col_1, row_2_col_1); the 5.17 reference gives row_1_col_1, row_1_col_2.
    for (let row = 1; row <= grid.rows; row++) {
      for (let column = 1; column <= grid.columns; column++) {
        if (special) parts.push(tileMarker(row, column));
        parts.push(IMAGE_TOKEN.repeat(tileTokens));
      }
    }
    if (settings.useThumbnail) {
      if (special) parts.push(IMAGE_THUMBNAIL_TOKEN);
      parts.push(IMAGE_TOKEN.repeat(resizedTokens));
    }
  } else {
    parts.push(IMAGE_TOKEN.repeat(resizedTokens));
  }
  if (special) parts.push(IMAGE_END_TOKEN);
  return parts.join("");
}

/** Replaces the prompt's `<image>` placeholders, in order, with the token text of each image. */
export function expandImagePlaceholders(prompt: string, layouts: readonly ImageLayout[], settings: ImageProcessorSettings): string {
  const pieces = prompt.split(IMAGE_TOKEN);
  const placeholders = pieces.length - 1;
  if (placeholders !== layouts.length) {
    throw new LfmkitError(`the prompt has ${placeholders} ${IMAGE_TOKEN} placeholder(s) but ${layouts.length} image(s) were given`);
  }
  return pieces.map((piece, i) => (i < layouts.length ? piece + imageTokenText(layouts[i], settings) : piece)).join("");
}
