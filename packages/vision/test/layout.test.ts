import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { scratchDir } from "@lfmkit/testing";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_IMAGE_PROCESSOR_SETTINGS as RELEASED,
  imageLayout,
  parseImageProcessorSettings,
  preprocessImage,
  readImageProcessorSettings,
} from "../src/index.js";
import { chooseGrid, gridCandidates, roundByFactor, smartResize } from "../src/layout.js";

describe("released defaults", () => {
  it("are the reference's: tiles of 512, 2–10 tiles, 64–256 tokens, patch 16, downsample 2, tolerance 2, thumbnail", () => {
    expect(RELEASED).toMatchObject({
      tileSize: 512,
      minTiles: 2,
      maxTiles: 10,
      minImageTokens: 64,
      maxImageTokens: 256,
      encoderPatchSize: 16,
      downsampleFactor: 2,
      maxPixelsTolerance: 2.0,
      useThumbnail: true,
      doImageSplitting: true,
      useImageSpecialTokens: true,
    });
  });
});

describe("1920×1080 photo at the released defaults (the acceptance example)", () => {
  // By hand, from the reference algorithm:
  // - round_by_factor(1080, 32) = 1088, round_by_factor(1920, 32) = 1920; 1088·1920 > 256·32²·2 = 524,288 → tiled.
  // - Aspect 1.778: (2, 1) is the first candidate at distance 0.222; (4, 2) ties and wins because
  //   1920·1080 > 0.5·512²·8. Nothing else is closer ((3, 2) is 0.278 away) → 4 columns × 2 rows, 2048×1024.
  // - Thumbnail: beta = sqrt(2,073,600 / 262,144) = 2.8125, h = floor(384/32)·32 = 384,
  //   w = floor(682.67/32)·32 = 672 → 672×384, 12·21 = 252 tokens.
  // - 8 tiles × 256 tokens + 252 = 2300 image tokens; every tile has 32×32 patches, the thumbnail 24×42.
  const layout = imageLayout({ width: 1920, height: 1080 }, RELEASED);

  it("tiles 4 wide × 2 high from a 2048×1024 resize, plus a 672×384 thumbnail", () => {
    expect(layout.grid).toEqual({ columns: 4, rows: 2 });
    expect(layout.gridSize).toEqual({ width: 2048, height: 1024 });
    expect(layout.resized).toEqual({ width: 672, height: 384 });
    expect(layout.tiles.map((t) => t.kind)).toEqual([...Array(8).fill("tile"), "thumbnail"]);
    expect(layout.tiles.slice(0, 8).map((t) => [t.left, t.top])).toEqual([
      [0, 0], [512, 0], [1024, 0], [1536, 0],
      [0, 512], [512, 512], [1024, 512], [1536, 512],
    ]);
  });

  it("has 256 tokens per tile, 252 for the thumbnail, 2300 in all, and 1024 patch slots", () => {
    expect(layout.tiles.map((t) => t.tokenCount)).toEqual([...Array(8).fill(256), 252]);
    expect(layout.tiles.map((t) => [t.patchRows, t.patchColumns])).toEqual([...Array(8).fill([32, 32]), [24, 42]]);
    expect(layout.tiles.reduce((n, t) => n + t.tokenCount, 0)).toBe(2300);
    expect(layout.maxPatches).toBe(1024);
  });

  it("preprocesses to 9 × 1024 × 768 with the matching mask and spatial shapes", () => {
    const data = new Uint8Array(1920 * 1080 * 3).map((_, i) => (i * 31) % 251);
    const { batch } = preprocessImage({ width: 1920, height: 1080, data }, RELEASED);
    expect([batch.tiles, batch.maxPatches, batch.patchDim]).toEqual([9, 1024, 768]);
    expect([...batch.spatialShapes]).toEqual([...Array(8).fill([32, 32]).flat(), 24, 42]);
    const realPatches = Array.from({ length: 9 }, (_, t) => batch.pixelAttentionMask.subarray(t * 1024, (t + 1) * 1024).reduce((a, b) => a + b, 0));
    expect(realPatches).toEqual([...Array(8).fill(1024), 24 * 42]);
    const thumbnailPadding = batch.pixelValues.subarray((8 * 1024 + 24 * 42) * 768);
    expect(thumbnailPadding.every((v) => v === 0)).toBe(true);
    expect(batch.pixelValues.every((v) => v >= -1 && v <= 1)).toBe(true);
  });
});

describe("reference arithmetic", () => {
  it("rounds half to even like Python's round", () => {
    expect(roundByFactor(48, 32)).toBe(64); // 1.5 → 2
    expect(roundByFactor(80, 32)).toBe(64); // 2.5 → 2
    expect(roundByFactor(16, 32)).toBe(0); // 0.5 → 0
    expect(roundByFactor(1080, 32)).toBe(1088);
  });

  it("enlarges small images to the minimum token count", () => {
    // 64·96 < 65,536 → beta = sqrt(65,536 / 5,000); h = ceil(181.0/32)·32 = 192, w = ceil(362.0/32)·32 = 384.
    expect(smartResize({ width: 100, height: 50 }, RELEASED)).toEqual({ width: 384, height: 192 });
    expect(imageLayout({ width: 100, height: 50 }, RELEASED).grid).toBeUndefined();
  });

  it("orders the grid candidates as CPython's sorted(set(...)) does", () => {
    // Printed by CPython 3.11 for the reference's _target_ratios(2, 10).
    expect(gridCandidates(2, 10)).toEqual([
      [1, 2], [2, 1], [3, 1], [1, 3], [2, 2], [4, 1], [1, 4], [5, 1], [1, 5], [1, 6], [6, 1], [3, 2], [2, 3],
      [7, 1], [1, 7], [4, 2], [2, 4], [1, 8], [8, 1], [1, 9], [3, 3], [9, 1], [2, 5], [5, 2], [10, 1], [1, 10],
    ]);
    expect(gridCandidates(2, 4)).toEqual([[1, 2], [2, 1], [3, 1], [1, 3], [4, 1], [1, 4], [2, 2]]);
  });

  it("breaks an exact aspect tie toward the later candidate only for images covering half its tiles", () => {
    // Aspect 1.25 is 0.75 from both 1:2 and 2:1; (1, 2) comes first in the set order.
    const twoTiles = { ...RELEASED, minTiles: 2, maxTiles: 2 };
    expect(chooseGrid({ width: 1250, height: 1000 }, twoTiles)).toEqual({ columns: 2, rows: 1 });
    expect(chooseGrid({ width: 500, height: 400 }, twoTiles)).toEqual({ columns: 1, rows: 2 });
  });

  it("tiles portrait images in more rows than columns", () => {
    const layout = imageLayout({ width: 1080, height: 1920 }, RELEASED);
    expect(layout.grid).toEqual({ columns: 2, rows: 4 });
    expect(layout.resized).toEqual({ width: 384, height: 672 });
  });

  it("keeps one resized image when splitting is off, and drops the thumbnail when asked", () => {
    const whole = imageLayout({ width: 1920, height: 1080 }, { ...RELEASED, doImageSplitting: false });
    expect(whole.tiles.map((t) => [t.kind, t.width, t.height])).toEqual([["whole", 672, 384]]);
    expect(whole.maxPatches).toBe(1024);
    const noThumbnail = imageLayout({ width: 1920, height: 1080 }, { ...RELEASED, useThumbnail: false });
    expect(noThumbnail.tiles.map((t) => t.kind)).toEqual(Array(8).fill("tile"));
  });

  it("refuses images too elongated for the encoder's patch slots", () => {
    expect(() => imageLayout({ width: 100_000, height: 10 }, RELEASED)).toThrow(/too elongated/);
  });
});

describe("settings", () => {
  const nested = { image_processor: { tile_size: 256, min_tiles: 2, max_tiles: 4, min_image_tokens: 16, max_image_tokens: 64 }, processor_class: "Lfm2VlProcessor" };

  it("reads processor_config.json (nested) and preprocessor_config.json (flat) alike, defaults for absent keys", () => {
    const fromNested = parseImageProcessorSettings(nested);
    expect(parseImageProcessorSettings(nested.image_processor)).toEqual(fromNested);
    expect(fromNested).toMatchObject({ tileSize: 256, maxTiles: 4, maxImageTokens: 64, encoderPatchSize: 16, useThumbnail: true, imageMean: [0.5, 0.5, 0.5] });
  });

  it("reads a model folder: processor_config.json first, then preprocessor_config.json, else the defaults", () => {
    const both = scratchDir("vision-settings");
    writeFileSync(join(both, "processor_config.json"), JSON.stringify(nested));
    writeFileSync(join(both, "preprocessor_config.json"), JSON.stringify({ tile_size: 384 }));
    expect(readImageProcessorSettings(both).tileSize).toBe(256);

    const flatOnly = scratchDir("vision-settings");
    writeFileSync(join(flatOnly, "processor_config.json"), JSON.stringify({ processor_class: "Lfm2VlProcessor" }));
    writeFileSync(join(flatOnly, "preprocessor_config.json"), JSON.stringify({ tile_size: 384, use_thumbnail: false }));
    expect(readImageProcessorSettings(flatOnly)).toMatchObject({ tileSize: 384, useThumbnail: false });

    expect(readImageProcessorSettings(scratchDir("vision-settings"))).toEqual(RELEASED);
  });

  it("refuses invalid settings with a one-line error naming the key", () => {
    expect(() => parseImageProcessorSettings({ min_tiles: 5, max_tiles: 2 })).toThrow(/min_tiles must not exceed max_tiles/);
    expect(() => parseImageProcessorSettings({ resample: 3 })).toThrow(LfmkitError);
    expect(() => parseImageProcessorSettings({ resample: 3 })).toThrow(/resample: only resample 2/);
    expect(() => parseImageProcessorSettings({ tile_size: "big" })).toThrow(/tile_size/);
  });
});
