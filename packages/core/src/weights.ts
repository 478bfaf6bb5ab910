/**
 * How model files name their weights to the graph builders: a checkpoint tensor read only when the
 * graph needs it, and the lookups a model file uses to find them by name.
 */
import { z } from "zod";
import { LfmkitError } from "./errors.js";
import type { BlockGrid, BlockQuantized } from "./quantize.js";

/** How linear weights are stored in a built graph: float32, or 8/4-bit blocks (`MatMulNBits`). */
export const WEIGHT_FORMATS = ["f32", "q8", "q4"] as const;
export const weightFormatSchema = z.enum(WEIGHT_FORMATS);
export type WeightFormat = z.infer<typeof weightFormatSchema>;

/** A checkpoint tensor that is read only when the graph needs it. */
export interface WeightSource {
  readonly name: string;
  readonly shape: readonly number[];
  /**
   * The values. A source may write them into `into` (at least as long as the tensor) and return a
   * view of it, so a caller that only transforms the values can reuse one buffer for every weight.
   */
  read(into?: Float32Array): Float32Array;
  /** The block quantization the values already lie on (a GGUF Q4_0 / Q8_0 tensor), kept when re-quantized at the same bits. */
  readonly quantized?: BlockGrid;
  /** Those blocks as stored, in `MatMulNBits` layout: taken as they are instead of re-quantizing the values at the same bits. */
  blocks?(): BlockQuantized;
  /**
   * Where the values lie in a file, row-major, when they are stored there as they are read: then
   * quantization reads them there, a chunk of rows at a time. A wrapper that changes the values (or
   * their order) must not carry it over.
   */
  readonly stored?: StoredValues;
}

export interface StoredValues {
  readonly dtype: "F32" | "BF16";
  /** The matrix's rows in order, as runs of consecutive rows, each where it lies in a file. */
  readonly runs: readonly StoredRun[];
}

export interface StoredRun {
  readonly file: string;
  /** Byte offset of the run's first value. */
  readonly offset: number;
  readonly rows: number;
}

export interface LinearSpec {
  readonly weight: WeightSource;
  readonly bias?: WeightSource;
  readonly format: WeightFormat;
  /** `MatMulNBits` compute precision: 0 = as stored, 4 = int8 activations. */
  readonly accuracyLevel?: number;
}

/** Finds a tensor by the name a model file uses for it; undefined when the checkpoint has none. */
export type FindWeight = (name: string) => WeightSource | undefined;

/** How a graph's linear layers store and multiply their weights. */
export interface LinearPrecision {
  readonly format: WeightFormat;
  /** `MatMulNBits` compute precision (default 4: int8 activations); 0 multiplies by the stored blocks exactly. */
  readonly accuracyLevel?: number;
}

/** The lookups a model file builds its graph from: by name, relative to a prefix, at one linear precision. */
export class Weights {
  constructor(
    private readonly find: FindWeight,
    /** Where the weights come from, for error messages. */
    readonly where: string,
    readonly precision: LinearPrecision,
    private readonly prefix = "",
  ) {}

  /** The same checkpoint seen from `prefix` (joined with a dot). */
  scope(prefix: string): Weights {
    return new Weights(this.find, this.where, this.precision, this.qualify(prefix));
  }

  required(name: string): WeightSource {
    const found = this.optional(name);
    if (!found) throw new LfmkitError(`tensor ${this.qualify(name)} is missing from the checkpoint`, this.where);
    return found;
  }

  optional(name: string): WeightSource | undefined {
    return this.find(this.qualify(name));
  }

  /** `prefix.weight` and, when present, `prefix.bias`, at this lookup's precision. */
  linear(prefix: string): LinearSpec {
    return this.asLinear(this.required(`${prefix}.weight`), this.optional(`${prefix}.bias`));
  }

  /** A weight found some other way (a tied head), at this lookup's precision. */
  asLinear(weight: WeightSource, bias?: WeightSource): LinearSpec {
    return { weight, bias, format: this.precision.format, accuracyLevel: this.precision.accuracyLevel };
  }

  private qualify(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }
}

/** Weights of shapes [rows_i, in], read as one [Σ rows_i, in] named by theirs joined with "+". */
export function stackedRows(sources: readonly WeightSource[]): WeightSource {
  const inFeatures = sources[0].shape[1];
  const rows = sources.map((source) => source.shape[0]);
  const grids = sources.map((source) => source.quantized);
  const quantized = grids.every((grid) => grid && grid.bits === grids[0]!.bits && grid.blockSize === grids[0]!.blockSize) ? grids[0] : undefined;
  const stored = sources.map((source) => source.stored);
  return {
    name: sources.map((source) => source.name).join("+"),
    shape: [rows.reduce((a, b) => a + b, 0), inFeatures],
    quantized,
    blocks: quantized && sources.every((source) => source.blocks) ? () => stackedBlocks(sources.map((source) => source.blocks!())) : undefined,
    stored: stored.every((values) => values && values.dtype === stored[0]!.dtype) ? { dtype: stored[0]!.dtype, runs: stored.flatMap((values) => values!.runs) } : undefined,
    read(into) {
      const count = rows.reduce((a, b) => a + b, 0) * inFeatures;
      const stacked = into && into.length >= count ? into.subarray(0, count) : new Float32Array(count);
      let at = 0;
      sources.forEach((source, i) => {
        readInto(source, stacked.subarray(at, at + rows[i] * inFeatures));
        at += rows[i] * inFeatures;
      });
      return stacked;
    },
  };
}

function stackedBlocks(parts: readonly BlockQuantized[]): BlockQuantized {
  const data = new Uint8Array(parts.reduce((sum, part) => sum + part.data.length, 0));
  const scales = new Float32Array(parts.reduce((sum, part) => sum + part.scales.length, 0));
  let [dataAt, scalesAt] = [0, 0];
  for (const part of parts) {
    data.set(part.data, dataAt);
    scales.set(part.scales, scalesAt);
    [dataAt, scalesAt] = [dataAt + part.data.length, scalesAt + part.scales.length];
  }
  return { ...parts[0], data, scales };
}

/** Reads `source` into `target` (exactly its length), copying only when the source did not write there itself. */
function readInto(source: WeightSource, target: Float32Array): void {
  const values = source.read(target);
  if (values.buffer !== target.buffer || values.byteOffset !== target.byteOffset) target.set(values);
}
