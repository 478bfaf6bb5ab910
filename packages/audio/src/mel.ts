/**
 * The NeMo-style log-mel front end (NeMo `FilterbankFeatures` in inference mode, which transformers'
 * `ParakeetFeatureExtractor` reproduces): pre-emphasis → centred STFT with zero padding and a
 * symmetric Hann window → power spectrum → Slaney mel filterbank → log(x + guard) → normalization
 * over the valid frames → frames past them set to the pad value.
 *
 * The references compute in float32; the steps whose rounding can matter (pre-emphasis, window,
 * windowed frame, log input, normalization statistics) are rounded to float32 as torch rounds them,
 * while the FFT and the sums run in float64 (closer to exact than torch's float32, well inside 1e-3).
 */
import FFT from "fft.js";
import { LfmkitError } from "@lfmkit/core";
import { slaneyMelFilters, type MelFilter } from "./mel-filters.js";
import type { LogMelSettings } from "./mel-settings.js";

export interface LogMelFeatures {
  /** [frames, mels], row-major. */
  features: Float32Array;
  frames: number;
  mels: number;
  /** Frames computed from real samples; the rest hold the pad value (attention mask 0). */
  validFrames: number;
}

export interface LogMelOptions {
  /**
   * Samples that are audio; the rest of `samples` is batch padding. Frames past the valid ones are
   * masked, as the references do for a padded batch. Default: all of them.
   */
  validSamples?: number;
}

/** NeMo's normalization epsilon, added to the standard deviation. */
const STD_EPSILON = 1e-5;
const f32 = Math.fround;

/** Log-mel features of float mono audio at `settings.sampleRate`. */
export function logMel(samples: Float32Array, settings: LogMelSettings, options: LogMelOptions = {}): LogMelFeatures {
  const validSamples = options.validSamples ?? samples.length;
  if (!Number.isInteger(validSamples) || validSamples < 0 || validSamples > samples.length) {
    throw new LfmkitError(`validSamples must be an integer in 0..${samples.length}, got ${validSamples}`, "logMel");
  }
  const { nFft, hopLength, mels } = settings;
  const half = nFft >> 1;
  const computedFrames = 1 + Math.floor((samples.length + 2 * half - nFft) / hopLength);
  const validFrames = Math.max(0, Math.floor((validSamples + 2 * half - nFft) / hopLength));

  const logMels = melSpectrogram(preemphasize(samples, validSamples, settings.preemphasis), settings, computedFrames);
  if (validFrames > 0) normalize(logMels, mels, validFrames, settings.normalize);

  const frames = settings.padTo > 0 ? Math.ceil(computedFrames / settings.padTo) * settings.padTo : computedFrames;
  const features = new Float32Array(frames * mels).fill(settings.padValue);
  features.set(logMels.subarray(0, validFrames * mels));
  return { features, frames, mels, validFrames };
}

/** The attention mask of a feature sequence: 1 for valid frames, 0 for padding. */
export function attentionMask(features: Pick<LogMelFeatures, "frames" | "validFrames">): Uint8Array {
  return new Uint8Array(features.frames).fill(1, 0, features.validFrames);
}

/** y[0] = x[0], y[t] = x[t] − c·x[t−1], and samples past the valid ones zeroed (only when the filter is on). */
function preemphasize(samples: Float32Array, validSamples: number, coefficient: number | null): Float32Array {
  if (coefficient === null) return samples;
  const c = f32(coefficient);
  const out = new Float32Array(samples.length);
  if (validSamples > 0) out[0] = samples[0];
  for (let t = 1; t < validSamples; t++) out[t] = samples[t] - f32(c * samples[t - 1]);
  return out;
}

/** log(mel energies + guard) (or the plain energies when `log` is off), [frames, mels]. */
function melSpectrogram(signal: Float32Array, settings: LogMelSettings, frames: number): Float32Array {
  const { nFft, hopLength, mels } = settings;
  const window = paddedHannWindow(settings.winLength, nFft);
  const filters = slaneyMelFilters(settings.sampleRate, nFft, mels, settings.fMin, settings.fMax);
  const fft = new FFT(nFft);
  const frame = new Float64Array(nFft);
  const spectrum = new Float64Array(2 * nFft);
  const power = new Float64Array((nFft >> 1) + 1);
  const out = new Float32Array(frames * mels);

  for (let index = 0; index < frames; index++) {
    // Frame `index` is centred on sample index·hop: it starts nFft/2 before, zeros outside the signal.
    const start = index * hopLength - (nFft >> 1);
    for (let k = 0; k < nFft; k++) {
      const t = start + k;
      frame[k] = t >= 0 && t < signal.length ? f32(signal[t] * window[k]) : 0;
    }
    fft.realTransform(spectrum, frame);
    for (let bin = 0; bin < power.length; bin++) power[bin] = spectrum[2 * bin] ** 2 + spectrum[2 * bin + 1] ** 2;
    for (let m = 0; m < mels; m++) {
      const energy = f32(applyFilter(filters[m], power));
      out[index * mels + m] = settings.log ? Math.log(f32(energy + settings.logGuard)) : energy;
    }
  }
  return out;
}

function applyFilter(filter: MelFilter, power: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < filter.weights.length; i++) sum += filter.weights[i] * power[filter.first + i];
  return sum;
}

/**
 * torch.hann_window(winLength, periodic=False) in float32 (0.5 − 0.5·cos(2πn/(N−1)), the angle step
 * rounded to float32), centred in nFft zeros as torch.stft pads a short window.
 */
function paddedHannWindow(winLength: number, nFft: number): Float32Array {
  const window = new Float32Array(nFft);
  const offset = (nFft - winLength) >> 1;
  if (winLength === 1) window[offset] = 1;
  const step = f32((2 * Math.PI) / (winLength - 1));
  for (let n = 0; winLength > 1 && n < winLength; n++) window[offset + n] = 0.5 - 0.5 * f32(Math.cos(f32(n * step)));
  return window;
}

/**
 * In place, over the first `validFrames` frames: per_feature standardizes each mel bin, all_features
 * the whole block, both with the unbiased (N−1) standard deviation plus 1e-5.
 */
function normalize(logMels: Float32Array, mels: number, validFrames: number, mode: LogMelSettings["normalize"]): void {
  if (mode === "per_feature") {
    for (let m = 0; m < mels; m++) standardize(logMels, m, mels, validFrames);
  } else if (mode === "all_features") {
    standardize(logMels, 0, 1, validFrames * mels);
  }
}

/** Standardizes values[offset + i·stride], i < count. A single value has no spread: its std counts as 0, as in NeMo. */
function standardize(values: Float32Array, offset: number, stride: number, count: number): void {
  const end = offset + count * stride;
  let sum = 0;
  for (let i = offset; i < end; i += stride) sum += values[i];
  const mean = f32(sum / count);
  let squares = 0;
  for (let i = offset; i < end; i += stride) squares += (values[i] - mean) ** 2;
  const std = count > 1 ? f32(Math.sqrt(squares / (count - 1))) : 0;
  const divisor = f32(std + STD_EPSILON);
  for (let i = offset; i < end; i += stride) values[i] = f32(values[i] - mean) / divisor;
}
