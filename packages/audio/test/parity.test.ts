/**
 * The front end against the reference fixtures: conformer-tiny (transformers' ParakeetFeatureExtractor)
 * and lfm2-audio-tiny (liquid-audio: torchaudio resample + NeMo preprocessor). Cases, shapes, rates and
 * input files all come from the fixture folders.
 */
import { resolve } from "node:path";
import { Checkpoint } from "@lfmkit/core";
import { checkpointFixtures, maxAbsDiff, readJson } from "@lfmkit/testing";
import { describe, expect, it } from "vitest";
import { attentionMask, loadAudio, logMel, readLogMelSettings, readWav, resample } from "../src/index.js";

/** The WAV a fixture's reference was computed from (reference.json `input_wav`, relative to the fixture set). */
function inputWav(dir: string): string {
  return resolve(dir, "..", readJson<{ input_wav: string }>(resolve(dir, "reference.json")).input_wav);
}

function reference(dir: string): Checkpoint {
  return Checkpoint.openFile(resolve(dir, "reference.safetensors"));
}

const conformers = checkpointFixtures("conformer");
const audioModels = checkpointFixtures("audioModel");

it("finds the conformer and audio-model fixtures", () => {
  expect(conformers.length).toBeGreaterThan(0);
  expect(audioModels.length).toBeGreaterThan(0);
});

describe.each(conformers)("Parakeet log-mel front end: %s", (dir) => {
  const ref = reference(dir);
  const settings = readLogMelSettings(dir);

  it("reads the input WAV as the reference waveform", async () => {
    const wav = await readWav(inputWav(dir));
    expect(wav.sampleRate).toBe(settings.sampleRate);
    expect(maxAbsDiff(wav.samples, ref.readF32("waveform"))).toBeLessThanOrEqual(1e-6);
  });

  it("computes input_features within 1e-3 and the attention mask exactly", async () => {
    const { samples } = await readWav(inputWav(dir));
    const features = logMel(samples, settings);
    expect([features.frames, features.mels]).toEqual(ref.info("input_features").shape);
    expect(maxAbsDiff(features.features, ref.readF32("input_features"))).toBeLessThanOrEqual(1e-3);
    expect(Array.from(attentionMask(features))).toEqual(ref.readInts("attention_mask"));
  });
});

describe.each(audioModels)("LFM2-Audio input path: %s", (dir) => {
  const ref = reference(dir);
  const settings = readLogMelSettings(dir);

  it("resamples the input WAV to the preprocessor rate within 1e-4", async () => {
    const wav = await readWav(inputWav(dir));
    const expected = ref.readF32("waveform_16k");
    const resampled = resample(wav.samples, wav.sampleRate, settings.sampleRate);
    expect(resampled.length).toBe(expected.length);
    expect(maxAbsDiff(resampled, expected)).toBeLessThanOrEqual(1e-4);
    expect(await loadAudio(inputWav(dir), settings.sampleRate)).toEqual(resampled);
  });

  it("computes audio_in from waveform_16k within 1e-3", () => {
    const features = logMel(ref.readF32("waveform_16k"), settings);
    expect([features.frames, features.mels]).toEqual(ref.info("audio_in").shape);
    expect(maxAbsDiff(features.features, ref.readF32("audio_in"))).toBeLessThanOrEqual(1e-3);
  });

  it("computes audio_in from the WAV file end to end within 1e-3", async () => {
    const features = logMel(await loadAudio(inputWav(dir), settings.sampleRate), settings);
    expect(maxAbsDiff(features.features, ref.readF32("audio_in"))).toBeLessThanOrEqual(1e-3);
  });
});
