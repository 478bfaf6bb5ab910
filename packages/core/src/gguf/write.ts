/** Writing GGUF v3 files. */
import { closeSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { LfmkitError } from "../errors.js";
import { GGML_TYPE, VALUE, ggmlBytes, type GgmlType, type GgufEntry } from "./types.js";

const ALIGNMENT = 32;

export interface GgufTensorData {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: GgmlType;
  /**
   * Produces the encoded bytes, in order, when the writer reaches this tensor: one chunk, or several
   * (a stack of experts, one slice at a time).
   */
  readonly chunks: () => Iterable<Uint8Array>;
}

const byteLength = (t: GgufTensorData) => ggmlBytes(t.type, t.shape.reduce((a, b) => a * b, 1));

/**
 * Writes a GGUF v3 file: metadata, tensor table, then each tensor's bytes, 32-byte aligned. The file
 * is written beside `path` and renamed into place, so a failed write leaves nothing at `path`.
 */
export function writeGguf(path: string, metadata: Record<string, GgufEntry>, tensors: readonly GgufTensorData[]): void {
  const head = new HeaderWriter();
  head.raw(Buffer.from("GGUF", "latin1"));
  head.u32(3);
  head.u64(tensors.length);
  head.u64(Object.keys(metadata).length + 1);
  head.string("general.alignment");
  head.u32(VALUE.u32);
  head.u32(ALIGNMENT);
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
    offset += Math.ceil(byteLength(t) / ALIGNMENT) * ALIGNMENT;
  }
  const partial = `${path}.partial-${process.pid}`;
  try {
    const fd = openSync(partial, "w");
    try {
      writeContents(fd, head.finish(), tensors, path);
    } finally {
      closeSync(fd);
    }
    renameSync(partial, path);
  } catch (error) {
    rmSync(partial, { force: true });
    throw error;
  }
}

/** The header, then each tensor's chunks, each checked against its shape and type and padded to the alignment. */
function writeContents(fd: number, header: Uint8Array, tensors: readonly GgufTensorData[], path: string): void {
  writeSync(fd, header);
  let position = header.length;
  const pad = () => {
    const to = Math.ceil(position / ALIGNMENT) * ALIGNMENT;
    if (to > position) writeSync(fd, new Uint8Array(to - position));
    position = to;
  };
  pad();
  for (const t of tensors) {
    const start = position;
    for (const chunk of t.chunks()) {
      writeSync(fd, chunk);
      position += chunk.length;
    }
    if (position - start !== byteLength(t)) {
      throw new LfmkitError(`${position - start} bytes written where its shape [${t.shape}] of ${t.type} needs ${byteLength(t)}`, `${path}: tensor ${t.name}`);
    }
    pad();
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
