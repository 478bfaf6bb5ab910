/**
 * GGUF (llama.cpp's file format, version 3): reading and writing headers, metadata and tensors in
 * F32 / F16 / BF16 / Q8_0 / Q4_0. Quantized tensors are read as float32: llama.cpp's Q8_0 / Q4_0
 * quantizers leave one value per block at the extreme code, so `quantizeBlockwise` (same 32-value
 * blocks, same scale rule) turns the dequantized values back into exactly the same blocks.
 */
import { closeSync, fstatSync, openSync, readSync, writeSync } from "node:fs";
import { basename } from "node:path";
import { floatToHalf, halfToFloat, widenToF32 } from "./dtype.js";
import { LfmkitError } from "./errors.js";
import { readFileRange } from "./file-range.js";
import { quantizeBlockwise, type BlockGrid } from "./quantize.js";

export const GGML_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 } as const;
export type GgmlType = keyof typeof GGML_TYPE;
const TYPE_NAMES = new Map<number, GgmlType>(Object.entries(GGML_TYPE).map(([k, v]) => [v, k as GgmlType]));
const BLOCK = 32;

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

const VALUE = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;

/** Reads a GGUF file's metadata and tensor table; tensor data is read on request. */
export class GgufFile {
  private constructor(
    readonly path: string,
    readonly metadata: ReadonlyMap<string, GgufValue>,
    readonly tensors: ReadonlyMap<string, GgufTensorInfo>,
  ) {}

  static open(path: string): GgufFile {
    const fd = openSync(path, "r");
    try {
      const reader = new HeaderReader(fd, fstatSync(fd).size, basename(path));
      if (reader.bytes(4).toString("latin1") !== "GGUF") throw new LfmkitError("not a GGUF file (bad magic)", basename(path));
      const version = reader.u32();
      if (version < 2 || version > 3) throw new LfmkitError(`GGUF version ${version} is not supported (2 or 3)`, basename(path));
      const tensorCount = reader.count();
      const kvCount = reader.count();
      const metadata = new Map<string, GgufValue>();
      for (let i = 0; i < kvCount; i++) {
        const key = reader.string();
        metadata.set(key, reader.value(reader.u32()));
      }
      const infos: { name: string; dims: number[]; type: GgmlType; offset: number }[] = [];
      for (let i = 0; i < tensorCount; i++) {
        const name = reader.string();
        const dims = Array.from({ length: reader.u32() }, () => reader.count());
        const typeId = reader.u32();
        const type = TYPE_NAMES.get(typeId);
        if (!type) throw new LfmkitError(`tensor type ${typeId} is not supported (F32, F16, BF16, Q8_0, Q4_0)`, `${basename(path)}: tensor ${name}`);
        infos.push({ name, dims, type, offset: reader.count() });
      }
      const alignment = Number(metadata.get("general.alignment") ?? 32);
      const dataStart = Math.ceil(reader.position / alignment) * alignment;
      const tensors = new Map<string, GgufTensorInfo>();
      for (const t of infos) {
        const count = t.dims.reduce((a, b) => a * b, 1);
        const byteLength = ggmlBytes(t.type, count);
        const offset = dataStart + t.offset;
        if (offset + byteLength > reader.size) {
          throw new LfmkitError(`data ends at byte ${offset + byteLength} but the file has ${reader.size} bytes (truncated)`, `${basename(path)}: tensor ${t.name}`);
        }
        tensors.set(t.name, { name: t.name, shape: [...t.dims].reverse(), type: t.type, offset, byteLength });
      }
      return new GgufFile(path, metadata, tensors);
    } finally {
      closeSync(fd);
    }
  }

  info(name: string): GgufTensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new LfmkitError(`tensor ${name} is missing`, basename(this.path));
    return info;
  }

  /** The whole tensor, or with `index` one slice along its first (slowest) dimension. */
  readF32(name: string, index?: number): Float32Array {
    const info = this.info(name);
    const bytes = index === undefined ? this.readBytes(info) : this.readBytes(sliceOf(info, index));
    return info.type === "Q8_0" || info.type === "Q4_0" ? dequantizeGgmlBlocks(info.type, bytes) : widenToF32(info.type, bytes);
  }

  private readBytes(info: GgufTensorInfo): Uint8Array {
    return readFileRange(this.path, info.offset, info.byteLength, `${basename(this.path)}: tensor ${info.name}`);
  }

}

function sliceOf(info: GgufTensorInfo, index: number): GgufTensorInfo {
  const slices = info.shape[0];
  if (!Number.isInteger(index) || index < 0 || index >= slices) throw new LfmkitError(`slice ${index} is out of range (${slices})`, `tensor ${info.name}`);
  const byteLength = info.byteLength / slices;
  return { ...info, shape: info.shape.slice(1), offset: info.offset + index * byteLength, byteLength };
}

function dequantizeGgmlBlocks(type: "Q8_0" | "Q4_0", bytes: Uint8Array): Float32Array {
  const blockBytes = type === "Q8_0" ? 34 : 18;
  const blocks = bytes.length / blockBytes;
  const out = new Float32Array(blocks * BLOCK);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < blocks; b++) {
    const base = b * blockBytes;
    const d = halfToFloat(view.getUint16(base, true));
    for (let j = 0; j < BLOCK; j++) {
      const q = type === "Q8_0" ? view.getInt8(base + 2 + j) : ((bytes[base + 2 + (j & 15)] >> (j < 16 ? 0 : 4)) & 15) - 8;
      out[b * BLOCK + j] = d * q;
    }
  }
  return out;
}

/**
 * Quantizes float32 values (a multiple of 32) into Q8_0 or Q4_0 blocks. The codes and scales are
 * `quantizeBlockwise`'s (the same rule as llama.cpp's reference quantizer); only the byte layout
 * differs: int8 codes without offset, Q4_0 nibbles split into halves, scales stored as f16.
 */
export function quantizeGgml(type: "Q8_0" | "Q4_0", values: Float32Array): Uint8Array {
  const bits = type === "Q8_0" ? 8 : 4;
  const q = quantizeBlockwise(values, values.length / BLOCK, BLOCK, bits, BLOCK);
  const blockBytes = type === "Q8_0" ? 34 : 18;
  const blob = (BLOCK * bits) / 8;
  const out = new Uint8Array(q.scales.length * blockBytes);
  const view = new DataView(out.buffer);
  q.scales.forEach((scale, b) => {
    const base = b * blockBytes;
    view.setUint16(base, floatToHalf(scale), true);
    for (let j = 0; j < BLOCK; j++) {
      if (bits === 8) view.setInt8(base + 2 + j, q.data[b * blob + j] - 128);
      else {
        const code = (q.data[b * blob + (j >> 1)] >> ((j & 1) * 4)) & 15;
        out[base + 2 + (j & 15)] |= j < 16 ? code : code << 4;
      }
    }
  });
  return out;
}

export interface GgufTensorData {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: GgmlType;
  /** Produces the encoded bytes when the writer reaches this tensor. */
  readonly bytes: () => Uint8Array;
}

/** Writes a GGUF v3 file: metadata, tensor table, then each tensor's bytes, 32-byte aligned. */
export function writeGguf(path: string, metadata: Record<string, GgufEntry>, tensors: readonly GgufTensorData[]): void {
  const alignment = 32;
  const head = new HeaderWriter();
  head.raw(Buffer.from("GGUF", "latin1"));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(Object.keys(metadata).length + 1);
  head.string("general.alignment");
  head.u32(VALUE.u32);
  head.u32(alignment);
  for (const [key, entry] of Object.entries(metadata)) {
    head.string(key);
    head.entry(entry);
  }
  let offset = 0;
  for (const t of tensors) {
    head.string(t.name);
    head.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) head.u64(d);
    head.u32(GGML_TYPE[t.type]);
    head.u64(offset);
    offset += Math.ceil(ggmlBytes(t.type, t.shape.reduce((a, b) => a * b, 1)) / alignment) * alignment;
  }
  const fd = openSync(path, "w");
  try {
    const header = head.finish();
    writeSync(fd, header);
    let position = header.length;
    const pad = (to: number) => {
      if (to > position) writeSync(fd, new Uint8Array(to - position));
      position = to;
    };
    pad(Math.ceil(position / alignment) * alignment);
    for (const t of tensors) {
      const bytes = t.bytes();
      writeSync(fd, bytes);
      position += bytes.length;
      pad(Math.ceil(position / alignment) * alignment);
    }
  } finally {
    closeSync(fd);
  }
}

class HeaderReader {
  position = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly where: string,
  ) {}

  bytes(n: number): Buffer {
    if (this.position + n > this.size) throw new LfmkitError(`header runs past the end of the file (truncated)`, this.where);
    const out = Buffer.alloc(n);
    readSync(this.fd, out, 0, n, this.position);
    this.position += n;
    return out;
  }

  u32(): number {
    return this.bytes(4).readUInt32LE(0);
  }

  /** A u64 that must fit a JS number (counts, sizes, offsets). */
  count(): number {
    const value = this.bytes(8).readBigUInt64LE(0);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new LfmkitError(`implausible count ${value} in the header (corrupt)`, this.where);
    return Number(value);
  }

  string(): string {
    const length = this.count();
    if (length > this.size) throw new LfmkitError(`string of ${length} bytes in the header (corrupt)`, this.where);
    return this.bytes(length).toString("utf8");
  }

  value(type: number): GgufValue {
    switch (type) {
      case VALUE.u8:
        return this.bytes(1).readUInt8(0);
      case VALUE.i8:
        return this.bytes(1).readInt8(0);
      case VALUE.u16:
        return this.bytes(2).readUInt16LE(0);
      case VALUE.i16:
        return this.bytes(2).readInt16LE(0);
      case VALUE.u32:
        return this.u32();
      case VALUE.i32:
        return this.bytes(4).readInt32LE(0);
      case VALUE.f32:
        return this.bytes(4).readFloatLE(0);
      case VALUE.bool:
        return this.bytes(1).readUInt8(0) !== 0;
      case VALUE.string:
        return this.string();
      case VALUE.array: {
        const elementType = this.u32();
        return Array.from({ length: this.count() }, () => this.value(elementType));
      }
      case VALUE.u64:
        return this.bytes(8).readBigUInt64LE(0);
      case VALUE.i64:
        return this.bytes(8).readBigInt64LE(0);
      case VALUE.f64:
        return this.bytes(8).readDoubleLE(0);
      default:
        throw new LfmkitError(`unknown metadata value type ${type} (corrupt)`, this.where);
    }
  }
}

class HeaderWriter {
  private readonly parts: Buffer[] = [];

  raw(bytes: Buffer): void {
    this.parts.push(bytes);
  }

  u32(value: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    this.parts.push(b);
  }

  u64(value: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(value));
    this.parts.push(b);
  }

  string(value: string): void {
    const bytes = Buffer.from(value, "utf8");
    this.u64(bytes.length);
    this.parts.push(bytes);
  }

  entry(entry: GgufEntry): void {
    const scalar = (type: "u32" | "i32" | "f32" | "u64", value: number) => {
      const b = Buffer.alloc(type === "u64" ? 8 : 4);
      if (type === "u32") b.writeUInt32LE(value);
      else if (type === "i32") b.writeInt32LE(value);
      else if (type === "f32") b.writeFloatLE(value);
      else b.writeBigUInt64LE(BigInt(value));
      this.parts.push(b);
    };
    switch (entry.type) {
      case "u32":
      case "i32":
      case "f32":
      case "u64":
        this.u32(VALUE[entry.type]);
        scalar(entry.type, entry.value);
        break;
      case "bool":
        this.u32(VALUE.bool);
        this.parts.push(Buffer.from([entry.value ? 1 : 0]));
        break;
      case "string":
        this.u32(VALUE.string);
        this.string(entry.value);
        break;
      case "string[]":
        this.u32(VALUE.array);
        this.u32(VALUE.string);
        this.u64(entry.value.length);
        for (const s of entry.value) this.string(s);
        break;
      case "u32[]":
      case "i32[]": {
        const element = entry.type === "u32[]" ? "u32" : "i32";
        this.u32(VALUE.array);
        this.u32(VALUE[element]);
        this.u64(entry.value.length);
        for (const v of entry.value) scalar(element, v);
        break;
      }
    }
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}
