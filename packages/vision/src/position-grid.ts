/**
 * SigLIP2-NaFlex's learned position grid resized to each tile's patch grid (architecture notes §3.5).
 * The resize depends only on the grid shape, so the runtime computes it here, once per shape, and
 * feeds the result to the graph.
 *
 * transformers resizes with `F.interpolate(bilinear, align_corners=False, antialias=True)` in float32
 * on the CPU, which PyTorch runs as separable passes: along columns, then along rows, an axis of
 * unchanged size skipped. Each output sample is a normalized triangle-filter average of its input
 * samples, the filter stretched by the scale when shrinking. The arithmetic below rounds to float32
 * where that kernel does.
 */

const f32 = Math.fround;

/** Where each output sample of one axis starts reading its input, and with what weights. */
interface AxisTaps {
  readonly start: Int32Array;
  readonly weights: Float32Array[];
}

function axisTaps(inSize: number, outSize: number): AxisTaps {
  const scale = f32(inSize / outSize);
  const shrinking = scale >= 1;
  const support = shrinking ? scale : 1;
  const invScale = shrinking ? f32(1 / scale) : 1;
  const maxTaps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize);
  const weights: Float32Array[] = [];
  for (let i = 0; i < outSize; i++) {
    const center = f32(scale * (i + 0.5));
    const first = Math.max(Math.trunc(f32(center - support) + 0.5), 0);
    const count = Math.min(Math.max(Math.min(Math.trunc(f32(center + support) + 0.5), inSize) - first, 0), maxTaps);
    const w = new Float32Array(count);
    let total = 0;
    for (let j = 0; j < count; j++) {
      const distance = Math.abs(f32((f32(j + first - center) + 0.5) * invScale));
      w[j] = distance < 1 ? 1 - distance : 0;
      total = f32(total + w[j]);
    }
    if (total !== 0) for (let j = 0; j < count; j++) w[j] = w[j] / total;
    start[i] = first;
    weights.push(w);
  }
  return { start, weights };
}

/**
 * Resizes `grid` [rows, columns, channels] (channels last) to [outRows, outColumns, channels].
 */
export function resizeBilinearAntialiased(
  grid: Float32Array,
  [rows, columns]: readonly [number, number],
  [outRows, outColumns]: readonly [number, number],
  channels: number,
): Float32Array {
  let current = grid;
  if (outColumns !== columns) {
    const taps = axisTaps(columns, outColumns);
    const next = new Float32Array(rows * outColumns * channels);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < outColumns; c++) {
        resample(current, (r * columns + taps.start[c]) * channels, channels, taps.weights[c], next, (r * outColumns + c) * channels, channels);
      }
    }
    current = next;
  }
  if (outRows !== rows) {
    const taps = axisTaps(rows, outRows);
    const rowStride = outColumns * channels;
    const next = new Float32Array(outRows * rowStride);
    for (let r = 0; r < outRows; r++) {
      for (let c = 0; c < outColumns; c++) {
        resample(current, taps.start[r] * rowStride + c * channels, rowStride, taps.weights[r], next, (r * outColumns + c) * channels, channels);
      }
    }
    current = next;
  }
  return current === grid ? Float32Array.from(grid) : current;
}

/** out[o + ch] = Σ_j weights[j] · input[i + j·stride + ch] for every channel, summed in float32. */
function resample(input: Float32Array, i: number, stride: number, weights: Float32Array, out: Float32Array, o: number, channels: number): void {
  for (let ch = 0; ch < channels; ch++) {
    let sum = f32(input[i + ch] * weights[0]);
    for (let j = 1; j < weights.length; j++) sum = f32(sum + f32(input[i + j * stride + ch] * weights[j]));
    out[o + ch] = sum;
  }
}

/** The position grid of one checkpoint, resized per patch grid on request and kept by shape. */
export class PositionGrid {
  private readonly resized = new Map<string, Float32Array>();

  /** `grid`: the `position_embedding.weight` rows, [side·side, width], read as a side×side grid. */
  constructor(
    private readonly grid: Float32Array,
    private readonly side: number,
    readonly width: number,
  ) {}

  /** The grid resized to `rows` × `columns` patches: [rows·columns, width], row-major. */
  forPatchGrid(rows: number, columns: number): Float32Array {
    const key = `${rows}x${columns}`;
    let found = this.resized.get(key);
    if (!found) {
      found = resizeBilinearAntialiased(this.grid, [this.side, this.side], [rows, columns], this.width);
      this.resized.set(key, found);
    }
    return found;
  }

  /** Per tile, its resized grid followed by zero rows up to `maxPatches`: [tiles, maxPatches, width]. */
  forTiles(patchGrids: readonly (readonly [number, number])[], maxPatches: number): Float32Array {
    const out = new Float32Array(patchGrids.length * maxPatches * this.width);
    patchGrids.forEach(([rows, columns], tile) => out.set(this.forPatchGrid(rows, columns), tile * maxPatches * this.width));
    return out;
  }
}
