/**
 * The mel filterbank both references take from `librosa.filters.mel(..., htk=False, norm="slaney")`:
 * Slaney's mel scale (linear below 1 kHz, logarithmic above), triangular filters on the rfft bin
 * frequencies, each scaled to unit area (2 / bandwidth in Hz). librosa computes in float64, stores the
 * triangles into a float32 array and then scales that array in place, so each weight is rounded to
 * float32 twice; that is reproduced here.
 */

/** One filter: its non-zero weights over rfft bins `first .. first + weights.length − 1`. */
export interface MelFilter {
  first: number;
  weights: Float32Array;
}

const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOG_STEP = Math.log(6.4) / 27;

function hzToMel(hz: number): number {
  return hz >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) / LOG_STEP : hz / F_SP;
}

function melToHz(mel: number): number {
  return mel >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOG_STEP * (mel - MIN_LOG_MEL)) : F_SP * mel;
}

/** numpy.linspace(start, stop, count): i·step + start, with the last point exactly `stop`. */
function linspace(start: number, stop: number, count: number): number[] {
  const step = (stop - start) / (count - 1);
  return Array.from({ length: count }, (_, i) => (i === count - 1 ? stop : i * step + start));
}

export function slaneyMelFilters(sampleRate: number, nFft: number, mels: number, fMin: number, fMax: number): MelFilter[] {
  const binHz = 1 / (nFft * (1 / sampleRate)); // numpy.fft.rfftfreq's spacing, to the last bit
  const binFrequencies = Array.from({ length: (nFft >> 1) + 1 }, (_, i) => i * binHz);
  const edges = linspace(hzToMel(fMin), hzToMel(fMax), mels + 2).map(melToHz);

  return Array.from({ length: mels }, (_, m) => {
    const [left, centre, right] = [edges[m], edges[m + 1], edges[m + 2]];
    const areaNorm = 2 / (right - left);
    const row = binFrequencies.map((f) => {
      const rising = -(left - f) / (centre - left);
      const falling = (right - f) / (right - centre);
      return Math.fround(Math.fround(Math.max(0, Math.min(rising, falling))) * areaNorm);
    });
    const first = row.findIndex((w) => w > 0);
    if (first < 0) return { first: 0, weights: new Float32Array(0) };
    const last = row.findLastIndex((w) => w > 0);
    return { first, weights: Float32Array.from(row.slice(first, last + 1)) };
  });
}
