/**
 * The RIFF/WAVE header: walks the chunk list with positional reads (so it never loads the audio),
 * finds `fmt ` and `data`, and checks that what they declare is consistent with the file.
 */
import { LfmkitError } from "@lfmkit/core";

/** Where WAV bytes are read from: an open file (a `FileHandle` is one) or bytes in memory. */
export interface ByteSource {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

/** Bytes in memory, read like a file. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return {
    async read(buffer, offset, length, position) {
      const part = bytes.subarray(position, Math.min(bytes.length, position + length));
      buffer.set(part, offset);
      return { bytesRead: part.length };
    },
    async close() {},
  };
}

export type SampleEncoding = "uint8" | "int16" | "int24" | "int32" | "float32" | "float64";

export interface WavInfo {
  sampleRate: number;
  channels: number;
  encoding: SampleEncoding;
  /** Bytes of one frame (one sample of every channel). */
  blockAlign: number;
  /** Sample frames in the data chunk. */
  frames: number;
  durationSeconds: number;
  /** Byte offset of the first sample in the file. */
  dataOffset: number;
}

const FORMAT_PCM = 0x0001;
const FORMAT_IEEE_FLOAT = 0x0003;
const FORMAT_EXTENSIBLE = 0xfffe;
/** Bytes 2..15 of the KSDATAFORMAT_SUBTYPE_PCM / _IEEE_FLOAT GUIDs; bytes 0..1 hold the format tag. */
const SUBFORMAT_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

interface FmtChunk {
  formatTag: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

interface DataChunk {
  offset: number;
  size: number;
}

export async function readWavHeader(file: ByteSource, fileSize: number, path: string, maxDurationSeconds: number): Promise<WavInfo> {
  const fail = (message: string): never => {
    throw new LfmkitError(message, path);
  };
  const read = async (position: number, length: number): Promise<Buffer> => {
    const buffer = Buffer.alloc(Math.max(0, Math.min(length, fileSize - position)));
    const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
    return buffer.subarray(0, bytesRead);
  };

  if (fileSize === 0) fail("empty file (0 bytes), not a WAV");
  const head = await read(0, 12);
  checkRiffWave(head, fail);
  const declaredEnd = 8 + head.readUInt32LE(4);
  const truncatedAt = (what: string): never =>
    fail(`truncated WAV: the file ends at byte ${fileSize} ${what}${declaredEnd > fileSize ? ` (its header declares ${declaredEnd} bytes)` : ""}`);

  let fmt: FmtChunk | undefined;
  let data: DataChunk | undefined;
  for (let position = 12; !fmt || !data; ) {
    if (position + 8 > fileSize) {
      const missing = [fmt ? "" : "'fmt '", data ? "" : "'data'"].filter(Boolean).join(" and ");
      if (position < declaredEnd && declaredEnd > fileSize) truncatedAt(`before its ${missing} chunk`);
      fail(`not a usable WAV: it has no ${missing} chunk`);
    }
    const chunkHeader = await read(position, 8);
    const id = chunkHeader.toString("latin1", 0, 4);
    const size = chunkHeader.readUInt32LE(4);
    if (id === "fmt ") {
      if (position + 8 + size > fileSize) truncatedAt("inside its 'fmt ' chunk");
      fmt = parseFmt(await read(position + 8, Math.min(size, 40)), size, fail);
    } else if (id === "data") {
      data = { offset: position + 8, size };
    }
    // RIFF chunks are word-aligned: an odd-sized chunk is followed by one pad byte.
    position += 8 + size + (size & 1);
  }

  const encoding = sampleEncoding(fmt, fail);
  const sampleBytes = fmt.bitsPerSample / 8;
  if (fmt.channels === 0) fail("the header lies about its sizes: 'fmt ' declares 0 channels");
  if (fmt.sampleRate === 0) fail("the header lies about its sizes: 'fmt ' declares a sample rate of 0 Hz");
  if (fmt.blockAlign !== fmt.channels * sampleBytes) {
    fail(`the header lies about its sizes: block align ${fmt.blockAlign} bytes, but ${fmt.channels} channel(s) of ${fmt.bitsPerSample}-bit samples take ${fmt.channels * sampleBytes}`);
  }
  if (data.size % fmt.blockAlign !== 0) {
    fail(`the header lies about its sizes: the data chunk has ${data.size} bytes, not a whole number of ${fmt.blockAlign}-byte frames`);
  }
  const frames = data.size / fmt.blockAlign;
  if (frames === 0) fail("the WAV has zero samples (its data chunk is empty)");
  if (data.offset + data.size > fileSize) {
    if (declaredEnd > fileSize) truncatedAt(`inside its audio, ${data.offset + data.size - fileSize} bytes short of the declared data`);
    fail(`the header lies about its sizes: the data chunk claims ${data.size} bytes but only ${fileSize - data.offset} follow it`);
  }
  const durationSeconds = frames / fmt.sampleRate;
  if (durationSeconds > maxDurationSeconds) {
    fail(`the WAV is ${formatDuration(durationSeconds)} long, over the ${formatDuration(maxDurationSeconds)} limit (maxDurationSeconds)`);
  }
  return { sampleRate: fmt.sampleRate, channels: fmt.channels, encoding, blockAlign: fmt.blockAlign, frames, durationSeconds, dataOffset: data.offset };
}

function checkRiffWave(head: Buffer, fail: (message: string) => never): void {
  if (head.toString("latin1", 0, 3) === "ID3" || (head[0] === 0xff && (head[1] & 0xe0) === 0xe0)) {
    fail(`this is an MP3 file, not a WAV (it starts with ${head[0] === 0xff ? "an MPEG frame sync" : "an ID3 tag"}); convert it to WAV first`);
  }
  const magic = head.toString("latin1", 0, 4);
  if (magic === "RIFF" && head.length < 12) fail(`truncated WAV: the file ends at byte ${head.length} inside its RIFF header`);
  if (magic === "RIFX" || magic === "RF64") fail(`${magic} files (big-endian or 64-bit WAV) are not supported`);
  if (magic !== "RIFF" || head.toString("latin1", 8, 12) !== "WAVE") fail("not a WAV file (it does not start with a RIFF/WAVE header)");
}

function parseFmt(bytes: Buffer, size: number, fail: (message: string) => never): FmtChunk {
  if (size < 16) fail(`the header lies about its sizes: the 'fmt ' chunk has ${size} bytes, at least 16 expected`);
  const fmt: FmtChunk = {
    formatTag: bytes.readUInt16LE(0),
    channels: bytes.readUInt16LE(2),
    sampleRate: bytes.readUInt32LE(4),
    blockAlign: bytes.readUInt16LE(12),
    bitsPerSample: bytes.readUInt16LE(14),
  };
  if (fmt.formatTag !== FORMAT_EXTENSIBLE) return fmt;
  // WAVE_FORMAT_EXTENSIBLE: the real format tag is the first two bytes of the sub-format GUID.
  // Samples narrower than their container (validBitsPerSample) are left-justified, so decoding by
  // container size gives the right values.
  if (size < 40) fail(`the header lies about its sizes: a WAVE_FORMAT_EXTENSIBLE 'fmt ' chunk has ${size} bytes, 40 expected`);
  if (!SUBFORMAT_GUID_TAIL.every((byte, i) => bytes[26 + i] === byte)) fail("unsupported WAVE_FORMAT_EXTENSIBLE sub-format (not PCM or IEEE float)");
  return { ...fmt, formatTag: bytes.readUInt16LE(24) };
}

const ENCODINGS: Record<number, Partial<Record<number, SampleEncoding>>> = {
  [FORMAT_PCM]: { 8: "uint8", 16: "int16", 24: "int24", 32: "int32" },
  [FORMAT_IEEE_FLOAT]: { 32: "float32", 64: "float64" },
};

function sampleEncoding(fmt: FmtChunk, fail: (message: string) => never): SampleEncoding {
  const encoding = ENCODINGS[fmt.formatTag]?.[fmt.bitsPerSample];
  if (encoding) return encoding;
  return fail(
    `unsupported WAV encoding (format tag 0x${fmt.formatTag.toString(16).padStart(4, "0")}, ${fmt.bitsPerSample}-bit); ` +
      "supported: 8/16/24/32-bit integer PCM and 32/64-bit float",
  );
}

function formatDuration(seconds: number): string {
  const whole = Math.round(seconds);
  const [h, m, s] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60];
  const mmss = `${String(m).padStart(2, "0")}:${String(s).padStart(2, "0")}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}
