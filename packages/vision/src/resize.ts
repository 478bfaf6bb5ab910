/**
 * The reference's resize: torchvision's bilinear with antialias on uint8, which PyTorch runs as a
 * separable triangle filter (widened by the scale when shrinking) with 16-bit fixed-point weights:
 * a horizontal pass to uint8, then a vertical pass. Reproducing that arithmetic gives the reference
 * pixels; sharp's kernels do not (README, "Resampling").
 */
import type { RgbImage } from "./image.js";
import type { Size } from "./layout.js";

/** For each output position along one axis: the first input index, the tap count and the weights. */
interface AxisFilter {
  readonly starts: Int32Array;
  readonly counts: Int32Array;
  /** [output, taps] fixed-point weights with `precision` fractional bits. */
  readonly weights: Int32Array;
  readonly taps: number;
  readonly precision: number;
}

/** The image stretched to exactly `size` (no aspect-ratio fitting, as the reference). */
export function resizeRgb(image: RgbImage, size: Size): RgbImage {
  let current = image;
  if (size.width !== current.width) current = horizontalPass(current, axisFilter(current.width, size.width));
  if (size.height !== current.height) current = verticalPass(current, axisFilter(current.height, size.height));
  return current;
}

function triangle(x: number): number {
  const distance = Math.abs(x);
  return distance < 1 ? 1 - distance : 0;
}

/** PyTorch's `_compute_indices_int16_weights_aa` for the bilinear filter, in the same double arithmetic. */
function axisFilter(inSize: number, outSize: number): AxisFilter {
  const scale = inSize / outSize;
  const support = scale >= 1 ? scale : 1;
  const inverseScale = scale >= 1 ? 1 / scale : 1;
  const taps = Math.ceil(support) * 2 + 1;
  const starts = new Int32Array(outSize);
  const counts = new Int32Array(outSize);
  const real = new Float64Array(outSize * taps);
  for (let i = 0; i < outSize; i++) {
    const center = scale * (i + 0.5);
    const start = Math.max(Math.trunc(center - support + 0.5), 0);
    const count = Math.min(Math.trunc(center + support + 0.5), inSize) - start;
    let total = 0;
    for (let j = 0; j < count; j++) {
      const w = triangle((j + start - center + 0.5) * inverseScale);
      real[i * taps + j] = w;
      total += w;
    }
    if (total !== 0) for (let j = 0; j < count; j++) real[i * taps + j] /= total;
    starts[i] = start;
    counts[i] = count;
  }
  // As many fractional bits as keep the largest weight below 2^15 (the weights are int16 there).
  let largest = real[0];
  for (const w of real) if (w > largest) largest = w;
  let precision = 0;
  while (precision < 22 && Math.trunc(0.5 + largest * 2 ** (precision + 1)) < 1 << 15) precision++;
  const weights = new Int32Array(real.length);
  for (let k = 0; k < real.length; k++) weights[k] = Math.trunc(0.5 + real[k] * 2 ** precision);
  return { starts, counts, weights, taps, precision };
}

/** Σ weight·pixel rounded back to a byte, as PyTorch's uint8 kernels do. */
function toByte(sum: number, precision: number): number {
  const value = sum >> precision;
  return value < 0 ? 0 : value > 255 ? 255 : value;
}

function horizontalPass(image: RgbImage, filter: AxisFilter): RgbImage {
  const outWidth = filter.starts.length;
  const out = new Uint8Array(outWidth * image.height * 3);
  const half = 1 << (filter.precision - 1);
  for (let y = 0; y < image.height; y++) {
    const row = y * image.width;
    for (let x = 0; x < outWidth; x++) {
      let r = half;
      let g = half;
      let b = half;
      for (let t = 0; t < filter.counts[x]; t++) {
        const w = filter.weights[x * filter.taps + t];
        const pixel = (row + filter.starts[x] + t) * 3;
        r += w * image.data[pixel];
        g += w * image.data[pixel + 1];
        b += w * image.data[pixel + 2];
      }
      const o = (y * outWidth + x) * 3;
      out[o] = toByte(r, filter.precision);
      out[o + 1] = toByte(g, filter.precision);
      out[o + 2] = toByte(b, filter.precision);
    }
  }
  return { width: outWidth, height: image.height, data: out };
}

function verticalPass(image: RgbImage, filter: AxisFilter): RgbImage {
  const outHeight = filter.starts.length;
  const rowBytes = image.width * 3;
  const out = new Uint8Array(outHeight * rowBytes);
  const sums = new Int32Array(rowBytes);
  for (let y = 0; y < outHeight; y++) {
    sums.fill(1 << (filter.precision - 1));
    // Whole input rows at a time, so the reads run along memory.
    for (let t = 0; t < filter.counts[y]; t++) {
      const w = filter.weights[y * filter.taps + t];
      const row = (filter.starts[y] + t) * rowBytes;
      for (let i = 0; i < rowBytes; i++) sums[i] += w * image.data[row + i];
    }
    for (let i = 0; i < rowBytes; i++) out[y * rowBytes + i] = toByte(sums[i], filter.precision);
  }
  return { width: image.width, height: outHeight, data: out };
}
