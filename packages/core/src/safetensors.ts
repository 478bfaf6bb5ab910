import { closeSync, existsSync, fstatSync, openSync, readFileSync, readdirSync, readSync } from "node:fs";
import { basename, join } from "node:path";
import { z } from "zod";
import { DTYPE_BYTES, isDtype, readAsF32, type Dtype } from "./dtype.js";
import { LfmkitError } from "./errors.js";
import { readFileRange, readFileRangeInto } from "./file-range.js";
import type { WeightSource } from "./weights.js";

export interface TensorInfo {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  readonly file: string;
  /** Absolute byte offset of the tensor data in `file`. */
  readonly offset: number;
  readonly byteLength: number;
}

const MAX_HEADER_BYTES = 100 * 1024 * 1024;

const headerEntrySchema = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().nonnegative()),
  data_offsets: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]),
});

/** Parses and validates one safetensors header; no tensor data is read. */
export function readSafetensorsHeader(file: string): TensorInfo[] {
  const fd = openSync(file, "r");
  try {
    const size = fstatSync(fd).size;
    const where = basename(file);
    if (size < 8) throw new LfmkitError(`file is ${size} bytes, too short for a safetensors header`, where);
    const lengthBytes = Buffer.alloc(8);
    readSync(fd, lengthBytes, 0, 8, 0);
    const headerLength = Number(lengthBytes.readBigUInt64LE(0));
    if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > size) {
      throw new LfmkitError(`header length ${headerLength} does not fit in a file of ${size} bytes (truncated or not safetensors)`, where);
    }
    const headerBytes = Buffer.alloc(headerLength);
    readSync(fd, headerBytes, 0, headerLength, 8);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(headerBytes.toString("utf8"));
    } catch {
      throw new LfmkitError("header is not valid JSON (corrupt or not safetensors)", where);
    }
    const dataStart = 8 + headerLength;
    const infos: TensorInfo[] = [];
    for (const [name, raw] of Object.entries(header)) {
      if (name === "__metadata__") continue;
      const parsed = headerEntrySchema.safeParse(raw);
      if (!parsed.success) throw new LfmkitError(`malformed header entry`, `${where}: tensor ${name}`);
      const { dtype, shape, data_offsets: [begin, end] } = parsed.data;
      if (!isDtype(dtype)) throw new LfmkitError(`unsupported dtype ${dtype}`, `${where}: tensor ${name}`);
      const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
      if (end - begin !== expected) {
        throw new LfmkitError(`data offsets span ${end - begin} bytes but shape [${shape}] of ${dtype} needs ${expected}`, `${where}: tensor ${name}`);
      }
      if (dataStart + end > size) {
        throw new LfmkitError(`data ends at byte ${dataStart + end} but the file has ${size} bytes (truncated)`, `${where}: tensor ${name}`);
      }
      infos.push({ name, dtype, shape, file, offset: dataStart + begin, byteLength: expected });
    }
    return infos;
  } finally {
    closeSync(fd);
  }
}

const shardIndexSchema = z.object({ weight_map: z.record(z.string(), z.string()) });

/**
 * All tensors of a Hugging Face model folder: `model.safetensors`, a sharded set with
 * `model.safetensors.index.json`, or any `*.safetensors` files. Data is read on request only.
 */
export class Checkpoint {
  private constructor(
    readonly dir: string,
    readonly files: readonly string[],
    private readonly tensors: ReadonlyMap<string, TensorInfo>,
  ) {}

  static open(dir: string): Checkpoint {
    const files = checkpointFiles(dir);
    const tensors = new Map<string, TensorInfo>();
    for (const file of files) {
      for (const info of readSafetensorsHeader(file)) tensors.set(info.name, info);
    }
    return new Checkpoint(dir, files, tensors);
  }

  /** One safetensors file on its own (reference outputs, a single shard). */
  static openFile(file: string): Checkpoint {
    return new Checkpoint(file, [file], new Map(readSafetensorsHeader(file).map((info) => [info.name, info])));
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  /** The tensor as a `WeightSource` the graph builders read when they need it; undefined when absent. */
  source(name: string): WeightSource | undefined {
    if (!this.has(name)) return undefined;
    const { shape, file, offset, dtype } = this.info(name);
    const stored = dtype === "F32" || dtype === "BF16" ? { dtype, runs: [{ file, offset, rows: shape.slice(0, -1).reduce((a, b) => a * b, 1) }] } : undefined;
    return { name, shape, read: (into) => this.readF32(name, into), stored };
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new LfmkitError(`tensor ${name} is missing from the checkpoint`, this.dir);
    return info;
  }

  /** Reads one tensor and widens it to float32 (F32, F16 and BF16 only), into `into` when given. */
  readF32(name: string, into?: Float32Array): Float32Array {
    const info = this.info(name);
    if (info.dtype !== "F32" && info.dtype !== "F16" && info.dtype !== "BF16") {
      throw new LfmkitError(`expected a floating-point tensor, found ${info.dtype}`, `${basename(info.file)}: tensor ${name}`);
    }
    const where = `${basename(info.file)}: tensor ${info.name}`;
    return readAsF32(info.dtype, info.byteLength / DTYPE_BYTES[info.dtype], (bytes) => readFileRangeInto(info.file, info.offset, bytes, where), into);
  }

  /** Reads an integer tensor (I64, I32, U8, I8) as plain numbers. */
  readInts(name: string): number[] {
    const info = this.info(name);
    const bytes = this.readBytes(info);
    switch (info.dtype) {
      case "I64":
        return Array.from(new BigInt64Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 8), Number);
      case "I32":
        return Array.from(new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
      case "U8":
        return Array.from(bytes);
      case "I8":
        return Array.from(new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      default:
        throw new LfmkitError(`expected an integer tensor, found ${info.dtype}`, `${basename(info.file)}: tensor ${name}`);
    }
  }

  private readBytes(info: TensorInfo): Uint8Array {
    return readFileRange(info.file, info.offset, info.byteLength, `${basename(info.file)}: tensor ${info.name}`);
  }

}

function checkpointFiles(dir: string): string[] {
  if (!existsSync(dir)) throw new LfmkitError("model folder does not exist", dir);
  const single = join(dir, "model.safetensors");
  if (existsSync(single)) return [single];
  const index = join(dir, "model.safetensors.index.json");
  if (existsSync(index)) {
    let parsed;
    try {
      parsed = shardIndexSchema.parse(JSON.parse(readFileSync(index, "utf8")));
    } catch (error) {
      throw new LfmkitError(`not a valid shard index (${(error as Error).message.split("\n")[0]})`, index);
    }
    return [...new Set(Object.values(parsed.weight_map))].sort().map((f) => join(dir, f));
  }
  const files = readdirSync(dir).filter((f) => f.endsWith(".safetensors")).sort();
  if (files.length === 0) throw new LfmkitError("no *.safetensors weights found", dir);
  return files.map((f) => join(dir, f));
}
