/**
 * The FastConformer encoder against the reference fixtures, from their reference inputs exactly:
 * conformer-tiny (transformers' ParakeetEncoder: `last_hidden_state` from `input_features`) and
 * lfm2-audio-tiny (liquid-audio: conformer + adapter from `audio_in` equal to the audio-in rows of
 * `inputs_embeds`). Shapes, lengths and spans all come from the fixture files.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Checkpoint, LfmkitError } from "@lfmkit/core";
import { checkpointFixtures, cosine, maxAbsDiff, readJson, scratchDir, testCacheDir } from "@lfmkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConformerEncoder, type EncodedAudio } from "../src/conformer-encoder.js";

/** LFM2-Audio's modality flag of the audio-in positions (liquid-audio `LFMModality.AUDIO_IN`). */
const AUDIO_IN = 2;

const conformers = checkpointFixtures("conformer");
const audioModels = checkpointFixtures("audioModel");

function reference(dir: string): Checkpoint {
  return Checkpoint.openFile(join(dir, "reference.safetensors"));
}

/** The first `rows` rows of a row-major [.., width] array. */
const leadingRows = (data: Float32Array, rows: number, width: number) => data.subarray(0, rows * width);

it("finds the conformer and audio-model fixtures", () => {
  expect(conformers.length).toBeGreaterThan(0);
  expect(audioModels.length).toBeGreaterThan(0);
});

describe.each(conformers)("Parakeet encoder: %s", (dir) => {
  const ref = reference(dir);
  const [frames, mels] = ref.info("input_features").shape;
  const features = ref.readF32("input_features");
  const validFrames = ref.readInts("attention_mask").reduce((a, b) => a + b, 0);
  const expected = ref.readF32("last_hidden_state");
  const [expectedFrames, hidden] = ref.info("last_hidden_state").shape;
  let f32: ConformerEncoder;
  let encoded: EncodedAudio;

  beforeAll(async () => {
    f32 = await ConformerEncoder.load(dir, { cacheDir: testCacheDir() });
    encoded = await f32.encode(features, frames, validFrames);
  });
  afterAll(() => f32?.dispose());

  it("reproduces last_hidden_state within 1e-3 at f32", () => {
    expect([encoded.frames, encoded.width]).toEqual([expectedFrames, hidden]);
    const diff = maxAbsDiff(leadingRows(encoded.features, encoded.validFrames, hidden), leadingRows(expected, encoded.validFrames, hidden));
    console.log(`${dir}: f32 max abs diff ${diff.toExponential(2)} over ${encoded.validFrames} valid frames`);
    expect(diff).toBeLessThanOrEqual(1e-3);
  });

  it("gives the valid frames the same output whatever padding follows them", async () => {
    const padding = 13;
    const padded = new Float32Array((frames + padding) * mels);
    padded.set(features);
    padded.fill(3, frames * mels);
    const withPadding = await f32.encode(padded, frames + padding, validFrames);
    expect(withPadding.validFrames).toBe(encoded.validFrames);
    const rows = (e: EncodedAudio) => leadingRows(e.features, encoded.validFrames, hidden);
    expect(maxAbsDiff(rows(withPadding), rows(encoded))).toBeLessThanOrEqual(1e-5);
  });

  it.each(["q8", "q4"] as const)("stays close to f32 at %s", async (weightFormat) => {
    const quantized = await ConformerEncoder.load(dir, { weightFormat, cacheDir: testCacheDir() });
    const out = await quantized.encode(features, frames, validFrames);
    await quantized.dispose();
    const similarity = cosine(out.features, encoded.features);
    console.log(`${dir}: ${weightFormat} cosine to f32 ${similarity.toFixed(6)}, max abs diff to the reference ${maxAbsDiff(out.features, expected).toExponential(2)}`);
    // 4-bit blocks of a tiny random model lose more than a real checkpoint's would.
    expect(similarity).toBeGreaterThanOrEqual(weightFormat === "q8" ? 0.999 : 0.95);
  });
});

describe.each(audioModels)("LFM2-Audio conformer + adapter: %s", (dir) => {
  const ref = reference(dir);
  const [frames] = ref.info("audio_in").shape;
  const audioIn = ref.readF32("audio_in");
  const [, lfmWidth] = ref.info("inputs_embeds").shape;
  // inputs_embeds was assembled for the first case of reference.json.
  const firstMode: string = readJson(join(dir, "reference.json")).cases[0].mode;
  const audioPositions = ref
    .readInts(`${firstMode}.modality_flag`)
    .flatMap((flag, position) => (flag === AUDIO_IN ? [position] : []));
  let encoded: EncodedAudio;

  beforeAll(async () => {
    const encoder = await ConformerEncoder.load(dir, { adapter: true, cacheDir: testCacheDir() });
    // liquid-audio encodes every frame of audio_in as real (audio_in_lens is the full count).
    encoded = await encoder.encode(audioIn, frames);
    await encoder.dispose();
  });

  it("reproduces the audio-in rows of inputs_embeds within 1e-3 at f32", () => {
    expect(encoded.width).toBe(lfmWidth);
    expect(encoded.validFrames).toBe(audioPositions.length);
    const embeds = ref.readF32("inputs_embeds");
    const expected = Float32Array.from(audioPositions.flatMap((position) => Array.from(embeds.subarray(position * lfmWidth, (position + 1) * lfmWidth))));
    const diff = maxAbsDiff(leadingRows(encoded.features, encoded.validFrames, lfmWidth), expected);
    console.log(`${dir}: conformer + adapter f32 max abs diff ${diff.toExponential(2)} over ${encoded.validFrames} audio-in positions`);
    expect(diff).toBeLessThanOrEqual(1e-3);
  });

  it("stays close to f32 at q8", async () => {
    const quantized = await ConformerEncoder.load(dir, { adapter: true, weightFormat: "q8", cacheDir: testCacheDir() });
    const out = await quantized.encode(audioIn, frames);
    await quantized.dispose();
    const similarity = cosine(out.features, encoded.features);
    console.log(`${dir}: conformer + adapter q8 cosine to f32 ${similarity.toFixed(6)}`);
    expect(similarity).toBeGreaterThanOrEqual(0.999);
  });
});

describe("config errors", () => {
  /** A folder linking `dir`'s files, with config.json replaced by `edit` of it. */
  function withConfig(dir: string, edit: (config: any) => unknown): string {
    const out = scratchDir("conformer-config");
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    writeFileSync(join(out, "config.json"), JSON.stringify(edit(config)));
    symlinkSync(join(dir, "model.safetensors"), join(out, "model.safetensors"));
    return out;
  }

  it.each(conformers)("refuses a Parakeet config whose hidden size the heads do not divide: %s", async (dir) => {
    const bad = withConfig(dir, (c) => ({ ...c, num_attention_heads: c.hidden_size + 1 }));
    await expect(ConformerEncoder.load(bad)).rejects.toThrow(/config\.json: hidden size \d+ is not divisible by \d+ heads/);
  });

  it.each(audioModels)("refuses an LFM2-Audio encoder it does not implement, naming the key: %s", async (dir) => {
    const bad = withConfig(dir, (c) => ({ ...c, encoder: { ...c.encoder, self_attention_model: "abs_pos" } }));
    const error = await ConformerEncoder.load(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LfmkitError);
    expect((error as Error).message).toMatch(/config\.json: encoder: self_attention_model: only "rel_pos" self-attention is supported/);
  });

  it.each(conformers)("refuses a config that is not a conformer's, and an adapter the checkpoint lacks: %s", async (dir) => {
    const empty = scratchDir("conformer-config");
    mkdirSync(empty, { recursive: true });
    writeFileSync(join(empty, "config.json"), JSON.stringify({ model_type: "lfm2" }));
    await expect(ConformerEncoder.load(empty)).rejects.toThrow(/not a conformer config/);
    await expect(ConformerEncoder.load(dir, { adapter: true, cacheDir: testCacheDir() })).rejects.toThrow(/no audio adapter/);
  });
});
