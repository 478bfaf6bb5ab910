/** GGUF (llama.cpp's file format, version 3): tensor types, metadata values and the tensor table. */
import type { BlockGrid } from "../quantize.js";

export const GGML_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 } as const;
export type GgmlType = keyof typeof GGML_TYPE;
export const TYPE_NAMES = new Map<number, GgmlType>(Object.entries(GGML_TYPE).map(([k, v]) => [v, k as GgmlType]));
/** Values per Q8_0 / Q4_0 block. */
export const BLOCK = 32;

/** The block quantization a type's values lie on (Q8_0, Q4_0), if any. */
export function ggmlBlockQuantization(type: GgmlType): BlockGrid | undefined {
  if (type === "Q8_0") return { bits: 8, blockSize: BLOCK };
  if (type === "Q4_0") return { bits: 4, blockSize: BLOCK };
  return undefined;
}

/** Bytes of `count` values of a type. */
export function ggmlBytes(type: GgmlType, count: number): number {
  switch (type) {
    case "F32":
      return count * 4;
    case "F16":
    case "BF16":
      return count * 2;
    case "Q8_0":
      return (count / BLOCK) * 34;
    case "Q4_0":
      return (count / BLOCK) * 18;
  }
}

export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** A metadata value with its GGUF type, for writing. */
export type GgufEntry =
  | { type: "u32" | "i32" | "f32" | "u64"; value: number }
  | { type: "bool"; value: boolean }
  | { type: "string"; value: string }
  | { type: "u32[]" | "i32[]"; value: readonly number[] }
  | { type: "string[]"; value: readonly string[] };

export interface GgufTensorInfo {
  readonly name: string;
  /** PyTorch order (slowest first), the reverse of the file's ggml order. */
  readonly shape: readonly number[];
  readonly type: GgmlType;
  readonly offset: number;
  readonly byteLength: number;
}

/** Metadata value type codes. */
export const VALUE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
