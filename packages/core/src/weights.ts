/**
 * How model files name their weights to the graph builders: a checkpoint tensor read only when the
 * graph needs it, and the lookups a model file uses to find them by name.
 */
import { z } from "zod";
import { LfmkitError } from "./errors.js";
import type { BlockGrid } from "./quantize.js";

/** How linear weights are stored in a built graph: float32, or 8/4-bit blocks (`MatMulNBits`). */
export const WEIGHT_FORMATS = ["f32", "q8", "q4"] as const;
export const weightFormatSchema = z.enum(WEIGHT_FORMATS);
export type WeightFormat = z.infer<typeof weightFormatSchema>;

/** A checkpoint tensor that is read only when the graph needs it. */
export interface WeightSource {
  readonly name: string;
  readonly shape: readonly number[];
  read(): Float32Array;
  /** The block quantization the values already lie on (a GGUF Q4_0 / Q8_0 tensor), kept when re-quantized at the same bits. */
  readonly quantized?: BlockGrid;
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

/** The lookups a model file builds its graph from: by name, relative to a prefix, in one weight format. */
export class Weights {
  constructor(
    private readonly find: FindWeight,
    /** Where the weights come from, for error messages. */
    readonly where: string,
    readonly format: WeightFormat,
    private readonly prefix = "",
  ) {}

  /** The same checkpoint seen from `prefix` (joined with a dot). */
  scope(prefix: string): Weights {
    return new Weights(this.find, this.where, this.format, this.qualify(prefix));
  }

  required(name: string): WeightSource {
    const found = this.optional(name);
    if (!found) throw new LfmkitError(`tensor ${this.qualify(name)} is missing from the checkpoint`, this.where);
    return found;
  }

  optional(name: string): WeightSource | undefined {
    return this.find(this.qualify(name));
  }

  /** `prefix.weight` and, when present, `prefix.bias`, stored in this lookup's format. */
  linear(prefix: string): LinearSpec {
    return { weight: this.required(`${prefix}.weight`), bias: this.optional(`${prefix}.bias`), format: this.format };
  }

  private qualify(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }
}
