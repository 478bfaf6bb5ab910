/**
 * The vision encoder against the image features transformers computed, for every case of every
 * vision-language fixture, from the reference `pixel_values` exactly: in the checkpoint's published
 * tower layout, in the other layout, and quantized.
 */
import { closeSync, existsSync, openSync, readSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Checkpoint, writeSafetensors } from "@lfmkit/core";
import { checkpointFixtures, cosine, maxAbsDiff, readJson, scratchDir, testCacheDir } from "@lfmkit/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { VisionEncoder, type VisionInput } from "../src/vision-encoder.js";

interface ReferenceCase {
  readonly image: string;
  readonly reference: string;
  readonly num_image_tokens: number;
}

const FLAT = "model.vision_tower.";
const NESTED = "model.vision_tower.vision_model.";

/** `model.vision_tower.X` ↔ `model.vision_tower.vision_model.X`; other names unchanged. */
function otherTowerName(name: string): string {
  if (name.startsWith(NESTED)) return FLAT + name.slice(NESTED.length);
  if (name.startsWith(FLAT)) return NESTED + name.slice(FLAT.length);
  return name;
}

function tensorBytes(file: string, offset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  const fd = openSync(file, "r");
  try {
    readSync(fd, bytes, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return bytes;
}

/** A copy of the checkpoint folder with its vision tower in the other weight layout; other files linked. */
function otherLayoutCopy(dir: string): string {
  const out = scratchDir("vision-layout");
  const checkpoint = Checkpoint.open(dir);
  for (const file of checkpoint.files) {
    const infos = Checkpoint.openFile(file)
      .names()
      .map((name) => checkpoint.info(name));
    writeSafetensors(
      join(out, basename(file)),
      infos.map((info) => ({ name: otherTowerName(info.name), dtype: info.dtype, shape: info.shape, bytes: () => tensorBytes(info.file, info.offset, info.byteLength) })),
    );
  }
  const index = join(dir, "model.safetensors.index.json");
  if (existsSync(index)) {
    const { weight_map, ...rest } = readJson(index);
    const renamed = Object.fromEntries(Object.entries(weight_map).map(([name, file]) => [otherTowerName(name), file]));
    writeFileSync(join(out, basename(index)), JSON.stringify({ ...rest, weight_map: renamed }));
  }
  for (const name of readdirSync(dir)) {
    if (!existsSync(join(out, name))) symlinkSync(join(dir, name), join(out, name));
  }
  return out;
}

function referenceInput(reference: Checkpoint): VisionInput {
  const [tiles, maxPatches] = reference.info("pixel_values").shape;
  return {
    pixelValues: reference.readF32("pixel_values"),
    pixelAttentionMask: reference.readInts("pixel_attention_mask"),
    spatialShapes: reference.readInts("spatial_shapes"),
    tiles,
    maxPatches,
  };
}

for (const dir of checkpointFixtures("visionLanguage")) {
  const cases: ReferenceCase[] = readJson(join(dir, "reference.json")).cases;
  const layouts = { published: dir, other: otherLayoutCopy(dir) };

  describe(`${basename(dir)} vision encoder`, () => {
    const encoders = new Map<string, VisionEncoder>();
    const f32Features = new Map<string, Float32Array>();

    beforeAll(async () => {
      encoders.set("published", await VisionEncoder.load(layouts.published, { cacheDir: testCacheDir() }));
      encoders.set("other", await VisionEncoder.load(layouts.other, { cacheDir: testCacheDir() }));
      for (const weightFormat of ["q8", "q4"] as const) encoders.set(weightFormat, await VisionEncoder.load(layouts.published, { cacheDir: testCacheDir(), weightFormat }));
    });
    afterAll(async () => {
      for (const encoder of encoders.values()) await encoder.dispose();
    });

    test("the copy names the tower the other way", () => {
      const patchEmbedding = (d: string) => Checkpoint.open(d).names().filter((name) => name.endsWith("embeddings.patch_embedding.weight"));
      expect(patchEmbedding(layouts.other)).toEqual(patchEmbedding(layouts.published).map(otherTowerName));
      expect(patchEmbedding(layouts.other)).not.toEqual(patchEmbedding(layouts.published));
    });

    for (const layout of ["published", "other"] as const) {
      test.each(cases)(`image_features of $image within 1e-3 (${layout} tower layout)`, async (c) => {
        const reference = Checkpoint.openFile(join(dir, c.reference));
        const expected = reference.readF32("image_features");
        const { features, tokens } = await encoders.get(layout)!.encode(referenceInput(reference));
        expect(tokens).toBe(reference.info("image_features").shape[0]);
        expect(tokens).toBe(c.num_image_tokens);
        const diff = maxAbsDiff(features, expected);
        console.log(`${basename(dir)} ${c.image} (${layout} layout): max abs diff ${diff.toExponential(2)}`);
        expect(diff).toBeLessThanOrEqual(1e-3);
        if (layout === "published") f32Features.set(c.image, features);
      });
    }

    // Measured on lfm2-vl-tiny: q8 ≈ 0.99985, q4 ≈ 0.97 (its 48-wide random layers quantize coarsely).
    for (const [format, minimum] of [["q8", 0.999], ["q4", 0.95]] as const) {
      test.each(cases)(`${format} image_features of $image close to f32`, async (c) => {
        const reference = Checkpoint.openFile(join(dir, c.reference));
        const { features } = await encoders.get(format)!.encode(referenceInput(reference));
        const f32 = f32Features.get(c.image) ?? (await encoders.get("published")!.encode(referenceInput(reference))).features;
        const similarity = cosine(features, f32);
        console.log(`${basename(dir)} ${c.image} ${format}: cosine to f32 ${similarity.toFixed(6)}, max abs diff ${maxAbsDiff(features, f32).toExponential(2)}`);
        expect(similarity).toBeGreaterThan(minimum);
      });
    }

    test("a tile whose mask does not count its grid's patches is refused", async () => {
      const input = referenceInput(Checkpoint.openFile(join(dir, cases[0].reference)));
      const wrong = { ...input, spatialShapes: Array.from(input.spatialShapes, (n, i) => (i === 0 ? n + 2 : n)) };
      await expect(encoders.get("published")!.encode(wrong)).rejects.toThrow(/real patches in its mask/);
    });
  });
}
