import { resolve } from "node:path";
import { writeFileSync, mkdirSync } from "node:fs";
import { LfmkitError } from "@lfmkit/core";
import { checkpointFixtures, readJson, scratchDir } from "@lfmkit/testing";
import { describe, expect, it } from "vitest";
import { attentionMask, logMel, nemoLogMelSettings, parakeetLogMelSettings, readLogMelSettings, type LogMelSettings } from "../src/index.js";

const conformerDir = checkpointFixtures("conformer")[0];
const parakeetJson = readJson(resolve(conformerDir, "preprocessor_config.json"));
const settings = parakeetLogMelSettings(parakeetJson);

/** A deterministic chirp-plus-noise signal. */
function testSignal(length: number): Float32Array {
  let seed = 1;
  const noise = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31 - 0.5) * 0.01;
  return Float32Array.from({ length }, (_, i) => Math.fround(0.5 * Math.sin(0.0005 * i * i * 0.01 + i * 0.05) + noise()));
}

describe("settings layouts", () => {
  it("reads the same front end from the Parakeet and the NeMo layout", () => {
    const nemo = nemoLogMelSettings({
      sample_rate: settings.sampleRate,
      window_size: settings.winLength / settings.sampleRate,
      window_stride: settings.hopLength / settings.sampleRate,
      features: settings.mels,
      n_fft: settings.nFft,
      pad_to: 0,
    });
    expect(nemo).toEqual(settings);
  });

  it("applies the NeMo defaults: n_fft the next power of two, pad_to 16, 64 mels", () => {
    const nemo = nemoLogMelSettings({ window_size: 0.025 });
    expect(nemo).toMatchObject({ winLength: 400, nFft: 512, hopLength: 160, padTo: 16, mels: 64, fMax: 8000, preemphasis: 0.97 });
  });

  it("finds the layout of a model folder", () => {
    for (const dir of [...checkpointFixtures("conformer"), ...checkpointFixtures("audioModel")]) {
      expect(readLogMelSettings(dir).mels).toBeGreaterThan(0);
    }
  });

  it("rejects unsupported settings with a one-line error naming the key", () => {
    const cases: [unknown, RegExp][] = [
      [{ window: "hamming" }, /window: only the "hann" window is supported/],
      [{ frame_splicing: 3 }, /frame_splicing: frame splicing is not supported/],
      [{ n_fft: 500, window_size: 0.025 }, /nFft: must be a power of two/],
      [{ n_fft: 256, window_size: 0.025 }, /winLength: the window is longer than n_fft/],
      [{ features: "many" }, /features:/],
    ];
    for (const [json, message] of cases) {
      expect(() => nemoLogMelSettings(json)).toThrow(LfmkitError);
      expect(() => nemoLogMelSettings(json)).toThrow(message);
    }
    const dir = scratchDir("audio-settings");
    mkdirSync(resolve(dir, "model"));
    writeFileSync(resolve(dir, "model", "config.json"), JSON.stringify({ model_type: "something" }));
    expect(() => readLogMelSettings(resolve(dir, "model"))).toThrow(/no preprocessor section/);
  });
});

describe("logMel", () => {
  it("gives 1 + L/hop frames, L/hop of them valid, the last one zero", () => {
    const out = logMel(testSignal(16000), settings);
    expect(out.frames).toBe(1 + Math.floor(16000 / settings.hopLength));
    expect(out.validFrames).toBe(Math.floor(16000 / settings.hopLength));
    expect(out.features.length).toBe(out.frames * settings.mels);
    expect(out.features.subarray(out.validFrames * settings.mels).every((x) => x === settings.padValue)).toBe(true);
    expect(Array.from(attentionMask(out))).toEqual([...Array(out.validFrames).fill(1), 0]);
  });

  it("standardizes each mel bin over the valid frames (mean 0, unbiased std ≈ 1)", () => {
    const out = logMel(testSignal(8000), settings);
    for (const m of [0, Math.floor(settings.mels / 2), settings.mels - 1]) {
      const column = Array.from({ length: out.validFrames }, (_, t) => out.features[t * out.mels + m]);
      const mean = column.reduce((a, b) => a + b, 0) / column.length;
      const variance = column.reduce((a, b) => a + (b - mean) ** 2, 0) / (column.length - 1);
      expect(Math.abs(mean)).toBeLessThan(1e-5);
      expect(Math.abs(Math.sqrt(variance) - 1)).toBeLessThan(1e-3);
    }
  });

  it("masks batch padding: the valid frames match the unpadded input exactly", () => {
    const signal = testSignal(12345);
    const padded = new Float32Array(20000);
    padded.set(signal);
    padded.fill(0.3, signal.length); // padding content must not leak into valid frames
    const alone = logMel(signal, settings);
    const batched = logMel(padded, settings, { validSamples: signal.length });
    expect(batched.validFrames).toBe(alone.validFrames);
    expect(batched.frames).toBe(1 + Math.floor(padded.length / settings.hopLength));
    expect(batched.features.subarray(0, alone.validFrames * settings.mels)).toEqual(alone.features.subarray(0, alone.validFrames * settings.mels));
    expect(batched.features.subarray(alone.validFrames * settings.mels).every((x) => x === 0)).toBe(true);
  });

  it("right-pads to a multiple of pad_to with pad_value", () => {
    const padded: LogMelSettings = { ...settings, padTo: 16, padValue: -7 };
    const out = logMel(testSignal(16000), padded);
    expect(out.frames).toBe(Math.ceil((1 + 16000 / settings.hopLength) / 16) * 16);
    expect(out.features.subarray(out.validFrames * out.mels).every((x) => x === -7)).toBe(true);
  });

  it("normalizes all features together, or not at all", () => {
    const signal = testSignal(8000);
    const all = logMel(signal, { ...settings, normalize: "all_features" });
    const values = all.features.subarray(0, all.validFrames * all.mels);
    expect(Math.abs(values.reduce((a, b) => a + b, 0) / values.length)).toBeLessThan(1e-5);

    const raw = logMel(signal, { ...settings, normalize: "none" });
    expect(Math.min(...raw.features.subarray(0, raw.validFrames * raw.mels))).toBeGreaterThanOrEqual(Math.log(settings.logGuard) - 1e-6);
  });

  it("handles audio shorter than one hop: no valid frames, all padding", () => {
    const out = logMel(testSignal(100), settings);
    expect(out.validFrames).toBe(0);
    expect(out.features.every((x) => x === 0)).toBe(true);
  });

  it("rejects an out-of-range validSamples", () => {
    expect(() => logMel(testSignal(100), settings, { validSamples: 101 })).toThrow(LfmkitError);
  });
});
