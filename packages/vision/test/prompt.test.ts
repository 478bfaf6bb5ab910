import { describe, expect, it } from "vitest";
import {
  DEFAULT_IMAGE_PROCESSOR_SETTINGS as RELEASED,
  IMAGE_END_TOKEN,
  IMAGE_START_TOKEN,
  IMAGE_THUMBNAIL_TOKEN,
  IMAGE_TOKEN,
  expandImagePlaceholders,
  imageLayout,
  imageTokenText,
  tileMarker,
} from "../src/index.js";

/** The expansion with each run of `<image>` written as `<image>×N`, to compare structure readably. */
function compact(text: string): string {
  return text.replace(/(?:<image>)+/g, (run) => `${IMAGE_TOKEN}×${run.length / IMAGE_TOKEN.length}`);
}

describe("prompt expansion", () => {
  it("wraps an untiled image's tokens in start and end", () => {
    const layout = imageLayout({ width: 320, height: 200 }, RELEASED);
    expect(layout.grid).toBeUndefined();
    expect(compact(imageTokenText(layout, RELEASED))).toBe(`${IMAGE_START_TOKEN}${IMAGE_TOKEN}×${layout.tiles[0].tokenCount}${IMAGE_END_TOKEN}`);
  });

  it("labels the tiles of a 4-wide × 2-high grid row by row, then the thumbnail", () => {
    const layout = imageLayout({ width: 1920, height: 1080 }, RELEASED);
    const tiles = [1, 2].flatMap((row) => [1, 2, 3, 4].map((column) => `${tileMarker(row, column)}${IMAGE_TOKEN}×256`));
    expect(compact(imageTokenText(layout, RELEASED))).toBe(
      `${IMAGE_START_TOKEN}${tiles.join("")}${IMAGE_THUMBNAIL_TOKEN}${IMAGE_TOKEN}×252${IMAGE_END_TOKEN}`,
    );
  });

  it("labels a portrait 2-wide × 4-high grid with rows 1–4 and columns 1–2", () => {
    const markers = imageTokenText(imageLayout({ width: 1080, height: 1920 }, RELEASED), RELEASED).match(/<\|img_row_\d+_col_\d+\|>/g);
    expect(markers).toEqual([1, 2, 3, 4].flatMap((row) => [1, 2].map((column) => tileMarker(row, column))));
  });

  it("leaves the thumbnail out when use_thumbnail is off, and all markers when special tokens are off", () => {
    const settings = { ...RELEASED, useThumbnail: false };
    const layout = imageLayout({ width: 1920, height: 1080 }, settings);
    expect(imageTokenText(layout, settings)).not.toContain(IMAGE_THUMBNAIL_TOKEN);
    const plain = { ...RELEASED, useImageSpecialTokens: false };
    expect(compact(imageTokenText(imageLayout({ width: 1920, height: 1080 }, plain), plain))).toBe(`${IMAGE_TOKEN}×2300`);
  });

  it("expands several images in prompt order and keeps the text around them", () => {
    const small = imageLayout({ width: 320, height: 200 }, RELEASED);
    const large = imageLayout({ width: 1920, height: 1080 }, RELEASED);
    const prompt = "<|im_start|>user\n<image>first, <image>second<|im_end|>\n";
    const expanded = expandImagePlaceholders(prompt, [small, large], RELEASED);
    expect(expanded).toBe(
      `<|im_start|>user\n${imageTokenText(small, RELEASED)}first, ${imageTokenText(large, RELEASED)}second<|im_end|>\n`,
    );
    const tokens = small.tiles[0].tokenCount + 2300;
    expect(expanded.split(IMAGE_TOKEN).length - 1).toBe(tokens);
  });

  it("refuses a prompt whose placeholders do not match the images", () => {
    const layout = imageLayout({ width: 320, height: 200 }, RELEASED);
    expect(() => expandImagePlaceholders("<image><image>", [layout], RELEASED)).toThrow(/2 <image> placeholder\(s\) but 1 image\(s\)/);
    expect(() => expandImagePlaceholders("no image", [layout], RELEASED)).toThrow(/0 <image> placeholder/);
  });
});
