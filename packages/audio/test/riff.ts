/** Hand-built RIFF/WAVE bytes, independent of the package's writer, for formats and defects it never writes. */

export type Chunk = [id: string, body: Uint8Array];

/** A RIFF/WAVE file from chunks, each followed by a pad byte when odd-sized (as the RIFF rule requires). */
export function riffWave(chunks: Chunk[], options: { riffSize?: number } = {}): Buffer {
  const parts = chunks.flatMap(([id, body]) => {
    const header = Buffer.alloc(8);
    header.write(id, 0, "latin1");
    header.writeUInt32LE(body.length, 4);
    return body.length % 2 === 1 ? [header, body, Buffer.alloc(1)] : [header, body];
  });
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(12);
  head.write("RIFF", 0, "latin1");
  head.writeUInt32LE(options.riffSize ?? body.length + 4, 4);
  head.write("WAVE", 8, "latin1");
  return Buffer.concat([head, body]);
}

export interface FmtFields {
  formatTag: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  blockAlign?: number;
}

/** A 16-byte `fmt ` chunk. */
export function fmtChunk(f: FmtFields): Chunk {
  const blockAlign = f.blockAlign ?? (f.channels * f.bitsPerSample) / 8;
  const body = Buffer.alloc(16);
  body.writeUInt16LE(f.formatTag, 0);
  body.writeUInt16LE(f.channels, 2);
  body.writeUInt32LE(f.sampleRate, 4);
  body.writeUInt32LE(f.sampleRate * blockAlign, 8);
  body.writeUInt16LE(blockAlign, 12);
  body.writeUInt16LE(f.bitsPerSample, 14);
  return ["fmt ", body];
}

/** A 40-byte WAVE_FORMAT_EXTENSIBLE `fmt ` chunk whose sub-format GUID carries `subFormat` (1 PCM, 3 float). */
export function extensibleFmtChunk(f: Omit<FmtFields, "formatTag"> & { subFormat: number; validBits?: number }): Chunk {
  const base = fmtChunk({ ...f, formatTag: 0xfffe })[1];
  const body = Buffer.alloc(40);
  body.set(base);
  body.writeUInt16LE(22, 16); // cbSize
  body.writeUInt16LE(f.validBits ?? f.bitsPerSample, 18);
  body.writeUInt32LE(f.channels === 2 ? 0x3 : 0x4, 20); // speaker mask: FL|FR, or FC
  body.writeUInt16LE(f.subFormat, 24);
  Buffer.from([0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]).copy(body, 26);
  return ["fmt ", body];
}

export type Encoding = "uint8" | "int16" | "int24" | "int32" | "float32" | "float64";

export const BITS: Record<Encoding, number> = { uint8: 8, int16: 16, int24: 24, int32: 32, float32: 32, float64: 64 };

/** Interleaved sample bytes from raw codes (integers for integer encodings, the stored value for float). */
export function sampleBytes(encoding: Encoding, frames: number[][]): Buffer {
  const width = BITS[encoding] / 8;
  const out = Buffer.alloc(frames.length * frames[0].length * width);
  let offset = 0;
  for (const frame of frames) {
    for (const code of frame) {
      if (encoding === "uint8") out.writeUInt8(code, offset);
      else if (encoding === "int16") out.writeInt16LE(code, offset);
      else if (encoding === "int24") out.writeIntLE(code, offset, 3);
      else if (encoding === "int32") out.writeInt32LE(code, offset);
      else if (encoding === "float32") out.writeFloatLE(code, offset);
      else out.writeDoubleLE(code, offset);
      offset += width;
    }
  }
  return out;
}

/** The float value the reference loaders give a raw code: integers over 2^(bits−1), 8-bit centred on 128. */
export function expectedSample(encoding: Encoding, code: number): number {
  if (encoding === "uint8") return (code - 128) / 128;
  if (encoding === "float32" || encoding === "float64") return Math.fround(code);
  return Math.fround(code / 2 ** (BITS[encoding] - 1));
}
