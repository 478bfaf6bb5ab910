import { closeSync, openSync, writeSync } from "node:fs";
import { DTYPE_BYTES, type Dtype } from "./dtype.js";
import { LfmkitError } from "./errors.js";

export interface SafetensorsEntry {
  readonly name: string;
  readonly dtype: Dtype;
  readonly shape: readonly number[];
  /** The tensor's bytes, little-endian, asked for only when it is written. */
  bytes(): Uint8Array;
}

/** Writes a safetensors file one tensor at a time, in the order given. */
export function writeSafetensors(path: string, tensors: readonly SafetensorsEntry[], metadata: Record<string, string> = {}): void {
  const header: Record<string, unknown> = Object.keys(metadata).length ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    const byteLength = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const fd = openSync(path, "w");
  try {
    writeSync(fd, length);
    writeSync(fd, json);
    for (const t of tensors) {
      const bytes = t.bytes();
      const expected = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
      if (bytes.byteLength !== expected) throw new LfmkitError(`tensor ${t.name} has ${bytes.byteLength} bytes, its shape needs ${expected}`, path);
      writeSync(fd, bytes);
    }
  } finally {
    closeSync(fd);
  }
}
