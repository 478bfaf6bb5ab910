import { LfmkitError } from "@lfmkit/core";
import { maxAbsDiff } from "@lfmkit/testing";
import { describe, expect, it } from "vitest";
import { resample } from "../src/index.js";

function sine(rate: number, hz: number, seconds: number): Float32Array {
  return Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => Math.sin((2 * Math.PI * hz * i) / rate));
}

describe("resample (torchaudio sinc_interp_hann)", () => {
  it("returns the input when the rates are equal", () => {
    const x = sine(16000, 440, 0.1);
    expect(resample(x, 16000, 16000)).toBe(x);
  });

  it("reduces the rates by their gcd: 44100→22050 is exactly 2→1", () => {
    const x = sine(44100, 1000, 0.05);
    expect(resample(x, 44100, 22050)).toEqual(resample(x, 2, 1));
  });

  it("outputs ceil(length · new / orig) samples", () => {
    for (const [from, to, length] of [[22050, 16000, 28665], [16000, 24000, 1001], [48000, 16000, 7], [8000, 44100, 3]]) {
      expect(resample(new Float32Array(length), from, to).length).toBe(Math.ceil((length * to) / from));
    }
  });

  it("keeps an in-band sine away from the edges, up and down", () => {
    for (const [from, to] of [[22050, 16000], [16000, 24000], [48000, 16000]]) {
      const out = resample(sine(from, 440, 0.5), from, to);
      const expected = sine(to, 440, 0.5);
      const margin = Math.round(0.05 * to); // the zero padding at both ends dims the first and last kernel widths
      expect(maxAbsDiff(out.subarray(margin, expected.length - margin), expected.subarray(margin, expected.length - margin))).toBeLessThan(2e-3);
    }
  });

  it("attenuates content above the new Nyquist frequency by more than 40 dB", () => {
    const out = resample(sine(48000, 12000, 0.5), 48000, 16000);
    const middle = out.subarray(800, out.length - 800);
    expect(Math.max(...middle.map(Math.abs))).toBeLessThan(1e-2);
  });

  it("rejects rates that are not positive integers", () => {
    expect(() => resample(new Float32Array(4), 22050.5, 16000)).toThrow(LfmkitError);
    expect(() => resample(new Float32Array(4), 16000, 0)).toThrow(/positive integers/);
  });
});
