/**
 * Band-limited resampling as torchaudio's `functional.resample` does it by default (`sinc_interp_hann`):
 * the rates are reduced by their gcd to orig/new, and output sample `frame·new + phase` is the dot
 * product of one of `new` Hann-windowed sinc kernels with the input, zero-padded by `width` on the left,
 * starting at `frame·orig`.
 */
import { LfmkitError } from "@lfmkit/core";

export interface ResampleOptions {
  /** Zero crossings of the sinc on each side (torchaudio default 6). */
  lowpassFilterWidth?: number;
  /** Cut-off as a fraction of the lower Nyquist frequency (torchaudio default 0.99). */
  rolloff?: number;
}

const f32 = Math.fround;

/** Resamples float mono audio; returns the input itself when the rates are equal. */
export function resample(samples: Float32Array, fromRate: number, toRate: number, options: ResampleOptions = {}): Float32Array {
  for (const rate of [fromRate, toRate]) {
    if (!Number.isInteger(rate) || rate <= 0) throw new LfmkitError(`sample rates must be positive integers, got ${rate}`, "resample");
  }
  if (fromRate === toRate) return samples;
  const divisor = gcd(fromRate, toRate);
  const orig = fromRate / divisor;
  const next = toRate / divisor;
  const filter = sincFilter(orig, next, options.lowpassFilterWidth ?? 6, options.rolloff ?? 0.99);
  const { width, taps } = filter;

  const outLength = Math.ceil((next * samples.length) / orig);
  const out = new Float32Array(outLength);
  // One phase's kernel at a time: all `next` of them together can be large when the gcd is small.
  for (let phase = 0; phase < next; phase++) {
    const kernel = filter.kernel(phase);
    for (let frame = 0; frame * next + phase < outLength; frame++) {
      const start = frame * orig - width; // input index under kernel tap 0
      let sum = 0;
      for (let tap = Math.max(0, -start); tap < taps && start + tap < samples.length; tap++) sum += kernel[tap] * samples[start + tap];
      out[frame * next + phase] = sum;
    }
  }
  return out;
}

interface SincFilter {
  /** Zero-padding on the left of the input, in input samples. */
  width: number;
  /** Kernel length: 2·width + orig. */
  taps: number;
  kernel(phase: number): Float32Array;
}

/**
 * torchaudio's `_get_sinc_resample_kernel`, one phase (kernel row) at a time. `resample` passes the
 * waveform's dtype (float32) into it, so the kernel math runs in float32: every step below is rounded
 * to float32 as torch rounds it, with the Python float constants (π, base frequency, scale) converted
 * to float32 as torch converts them.
 */
function sincFilter(orig: number, next: number, lowpassFilterWidth: number, rolloff: number): SincFilter {
  if (!(lowpassFilterWidth > 0)) throw new LfmkitError(`lowpassFilterWidth must be positive, got ${lowpassFilterWidth}`, "resample");
  const baseFreq = Math.min(orig, next) * rolloff;
  const width = Math.ceil((lowpassFilterWidth * orig) / baseFreq);
  const taps = 2 * width + orig;
  const [baseFreq32, pi32, scale32] = [f32(baseFreq), f32(Math.PI), f32(baseFreq / orig)];

  const kernel = (phase: number): Float32Array => {
    const row = new Float32Array(taps);
    const phaseOffset = f32(-phase / next);
    for (let tap = 0; tap < taps; tap++) {
      let t = f32(f32(phaseOffset + f32((tap - width) / orig)) * baseFreq32);
      t = Math.min(lowpassFilterWidth, Math.max(-lowpassFilterWidth, t));
      const cosine = f32(Math.cos(f32(f32(f32(t * pi32) / lowpassFilterWidth) / 2)));
      const window = f32(cosine * cosine);
      const x = f32(t * pi32);
      const sinc = x === 0 ? 1 : f32(f32(Math.sin(x)) / x);
      row[tap] = f32(sinc * f32(window * scale32));
    }
    return row;
  };
  return { width, taps, kernel };
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
