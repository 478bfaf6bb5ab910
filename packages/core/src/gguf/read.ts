/** Reading GGUF files: metadata and tensor table up front, tensor data (F32 / F16 / BF16 / Q8_0 / Q4_0) as float32 on request. */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { basename } from "node:path";
import { widenToF32 } from "../dtype.js";
import { LfmkitError } from "../errors.js";
import { readFileRange } from "../file-range.js";
import type { BlockQuantized } from "../quantize.js";
import { dequantizeGgmlBlocks, ggmlBlocksAsMatMulNBits } from "./blocks.js";
import { TYPE_NAMES, VALUE, ggmlBytes, type GgmlType, type GgufTensorInfo, type GgufValue } from "./types.js";

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
    const info = this.tensorOrSlice(name, index);
    const bytes = this.readBytes(info);
    return info.type === "Q8_0" || info.type === "Q4_0" ? dequantizeGgmlBlocks(info.type, bytes) : widenToF32(info.type, bytes);
  }

  /** A Q8_0 / Q4_0 matrix (or with `index` one slice of it) as `MatMulNBits` blocks, as stored. */
  readBlocks(name: string, index?: number): BlockQuantized {
    const info = this.tensorOrSlice(name, index);
    if ((info.type !== "Q8_0" && info.type !== "Q4_0") || info.shape.length !== 2) {
      throw new LfmkitError(`expected a Q8_0 / Q4_0 matrix, found ${info.type} [${info.shape}]`, `${basename(this.path)}: tensor ${name}`);
    }
    return ggmlBlocksAsMatMulNBits(info.type, this.readBytes(info), info.shape[1]);
  }

  private tensorOrSlice(name: string, index: number | undefined): GgufTensorInfo {
    return index === undefined ? this.info(name) : sliceOf(this.info(name), index);
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
