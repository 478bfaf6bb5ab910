/**
 * The FastConformer encoder against the reference fixtures, from their reference inputs exactly:
 * conformer-tiny (transformers' ParakeetEncoder: `last_hidden_state` from `input_features`) and
 * lfm2-audio-tiny (liquid-audio: conformer + adapter from `audio_in` equal to the audio-in rows of
 * `inputs_embeds`). Shapes, lengths and spans all come from the fixture files.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Checkpoint, LfmkitError, QUANT_BLOCK_SIZE, quantizeBlockwise } from "@lfmkit/core";
import { checkpointFixtures, maxAbsDiff, readJson, scratchDir, testCacheDir, SUMMATION_ORDER_BOUND, dequantizedCopy as sharedDequantizedCopy, relativeError } from "@lfmkit/testing";
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

/**
 * The tensors the encoder's graph multiplies through `ops.linear`, so stores as 8/4-bit blocks at
 * q8/q4, in either layout (transformers' Parakeet names, NeMo's under `conformer.`): the subsampling's
 * output linear, each layer's feed-forward linears, q/k/v/output and position projections, the conv
 * module's two pointwise (kernel-1) convs, read as [out, in], and the LFM2-Audio adapter's two linears.
 * The subsampling convs, the depthwise conv, norms, biases and the position biases stay float32.
 */
const QUANTIZED = [
  /^(conformer\.)?(subsampling\.linear|pre_encode\.out)\.weight$/,
  /^(conformer\.)?layers\.\d+\.feed_forward[12]\.linear[12]\.weight$/,
  /^(conformer\.)?layers\.\d+\.self_attn\.([qkvo]_proj|relative_k_proj|linear_(q|k|v|out|pos))\.weight$/,
  /^(conformer\.)?layers\.\d+\.conv\.pointwise_conv[12]\.weight$/,
  /^audio_adapter\.model\.[13]\.weight$/,
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



/** The valid rows of `dir` encoded at q8/q4 with exact products, and by the f32 load of its dequantized copy. */
async function quantizedAndDequantized(dir: string, bits: 4 | 8, adapter: boolean, encode: (encoder: ConformerEncoder) => Promise<EncodedAudio>) {
  const valid = (e: EncodedAudio) => leadingRows(e.features, e.validFrames, e.width);
  const quantized = await ConformerEncoder.load(dir, { adapter, weightFormat: bits === 8 ? "q8" : "q4", quantizedProducts: "exact", cacheDir: testCacheDir() });
  const reference = await ConformerEncoder.load(dequantizedCopy(dir, bits), { adapter, cacheDir: testCacheDir() });
  try {
    return { got: valid(await encode(quantized)), want: valid(await encode(reference)) };
  } finally {
    await quantized.dispose();
    await reference.dispose();
  }
}

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

  it.each([8, 4] as const)("q%i computes what f32 computes with the same blocks dequantized", async (bits) => {
    const { got, want } = await quantizedAndDequantized(dir, bits, false, (encoder) => encoder.encode(features, frames, validFrames));
    const error = relativeError(got, want);
    console.log(`${dir}: q${bits} relative error against dequantized f32 ${error.toExponential(2)}`);
    expect(error).toBeLessThanOrEqual(SUMMATION_ORDER_BOUND);
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

  it.each([8, 4] as const)("q%i computes what f32 computes with the same blocks dequantized", async (bits) => {
    const { got, want } = await quantizedAndDequantized(dir, bits, true, (encoder) => encoder.encode(audioIn, frames));
    const error = relativeError(got, want);
    console.log(`${dir}: conformer + adapter q${bits} relative error against dequantized f32 ${error.toExponential(2)}`);
    expect(error).toBeLessThanOrEqual(SUMMATION_ORDER_BOUND);
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
