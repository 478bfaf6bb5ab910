/**
 * The vision encoder against the image features transformers computed, for every case of every
 * vision-language fixture, from the reference `pixel_values` exactly: in the checkpoint's published
 * tower layout, in the other layout, and quantized.
 */
import { closeSync, existsSync, openSync, readSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Checkpoint, QUANT_BLOCK_SIZE, quantizeBlockwise, writeSafetensors } from "@lfmkit/core";
import { checkpointFixtures, maxAbsDiff, readJson, scratchDir, testCacheDir, SUMMATION_ORDER_BOUND, dequantizedCopy as sharedDequantizedCopy, relativeError } from "@lfmkit/testing";
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

/**
 * The tensors the encoder's graph multiplies through `ops.linear`, so stores as 8/4-bit blocks at
 * q8/q4: the tower's patch embedding (a Linear over flattened patches), each layer's q/k/v/out
 * projections and MLP, and the projector's two linears. The position grid (resized by the runtime),
 * norms, biases and the unused `head.*` stay float32.
 */
const QUANTIZED = [
  /^model\.vision_tower\.(vision_model\.)?embeddings\.patch_embedding\.weight$/,
  /^model\.vision_tower\.(vision_model\.)?encoder\.layers\.\d+\.(self_attn\.(q|k|v|out)_proj|mlp\.fc[12])\.weight$/,
  /^model\.multi_modal_projector\.linear_[12]\.weight$/,
];

/** A copy of the checkpoint whose quantized weights are their `bits` blocks, dequantized by the independent reader. */
function dequantizedCopy(dir: string, bits: 4 | 8): string {
  const checkpoint = Checkpoint.open(dir);
  return sharedDequantizedCopy(dir, {
    matrixOf: (name, shape) => (QUANTIZED.some((pattern) => pattern.test(name)) ? [shape[0], shape[1]] : undefined),
    read: (name) => checkpoint.readF32(name),
    quantize: (w, rows, cols) => quantizeBlockwise(w, rows, cols, bits, QUANT_BLOCK_SIZE[bits]),
  });
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

    beforeAll(async () => {
      encoders.set("published", await VisionEncoder.load(layouts.published, { cacheDir: testCacheDir() }));
      encoders.set("other", await VisionEncoder.load(layouts.other, { cacheDir: testCacheDir() }));
      for (const [weightFormat, bits] of [["q8", 8], ["q4", 4]] as const) {
        encoders.set(weightFormat, await VisionEncoder.load(layouts.published, { cacheDir: testCacheDir(), weightFormat, quantizedProducts: "exact" }));
        encoders.set(`${weightFormat} dequantized`, await VisionEncoder.load(dequantizedCopy(dir, bits), { cacheDir: testCacheDir() }));
      }
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
      });
    }

    for (const format of ["q8", "q4"] as const) {
      test.each(cases)(`${format} image_features of $image: what f32 computes with the same blocks dequantized`, async (c) => {
        const input = referenceInput(Checkpoint.openFile(join(dir, c.reference)));
        const { features } = await encoders.get(format)!.encode(input);
        const { features: expected } = await encoders.get(`${format} dequantized`)!.encode(input);
        const error = relativeError(features, expected);
        console.log(`${basename(dir)} ${c.image} ${format}: relative error against dequantized f32 ${error.toExponential(2)}`);
        expect(error).toBeLessThanOrEqual(SUMMATION_ORDER_BOUND);
      });
    }

    test("a tile whose mask does not count its grid's patches is refused", async () => {
      const input = referenceInput(Checkpoint.openFile(join(dir, cases[0].reference)));
      const wrong = { ...input, spatialShapes: Array.from(input.spatialShapes, (n, i) => (i === 0 ? n + 2 : n)) };
      await expect(encoders.get("published")!.encode(wrong)).rejects.toThrow(/real patches in its mask/);
    });
  });
}
