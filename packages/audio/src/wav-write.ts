/** Writing WAV files: 16-bit integer PCM or 32-bit IEEE float, one or more channels. */
import { writeFile } from "node:fs/promises";
import { LfmkitError } from "@lfmkit/core";

export type WavWriteEncoding = "pcm16" | "float32";

/**
 * A complete WAV file. `audio` is one channel, or one array per channel (all the same length).
 * pcm16 scales by 32768 and clips to [−32768, 32767], the inverse of the reader, so audio read from a
 * 16-bit file is written back bit for bit. float32 files carry the `fact` chunk the format requires.
 */
export function encodeWav(audio: Float32Array | readonly Float32Array[], sampleRate: number, encoding: WavWriteEncoding): Uint8Array {
  const channels = audio instanceof Float32Array ? [audio] : audio;
  const frames = channels[0]?.length ?? 0;
  if (channels.length === 0 || channels.some((channel) => channel.length !== frames)) {
    throw new LfmkitError("encodeWav needs at least one channel, all of the same length");
  }
  if (!Number.isInteger(sampleRate) || sampleRate <= 0) throw new LfmkitError(`encodeWav needs a positive integer sample rate, got ${sampleRate}`);

  const isFloat = encoding === "float32";
  const sampleBytes = isFloat ? 4 : 2;
  const blockAlign = channels.length * sampleBytes;
  const dataBytes = frames * blockAlign;
  const fmtBytes = isFloat ? 18 : 16;
  const factChunkBytes = isFloat ? 12 : 0;
  const dataStart = 12 + 8 + fmtBytes + factChunkBytes + 8;
  const out = new Uint8Array(dataStart + dataBytes);
  const view = new DataView(out.buffer);
  const ascii = (offset: number, text: string) => out.set(Buffer.from(text, "latin1"), offset);

  ascii(0, "RIFF");
  view.setUint32(4, out.length - 8, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, fmtBytes, true);
  view.setUint16(20, isFloat ? 3 : 1, true);
  view.setUint16(22, channels.length, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * blockAlign, true);
  view.setUint16(32, blockAlign, true);
  view.setUint16(34, sampleBytes * 8, true);
  let offset = 20 + fmtBytes; // an 18-byte fmt ends with cbSize = 0, already zero
  if (isFloat) {
    ascii(offset, "fact");
    view.setUint32(offset + 4, 4, true);
    view.setUint32(offset + 8, frames, true);
    offset += 12;
  }
  ascii(offset, "data");
  view.setUint32(offset + 4, dataBytes, true);
  offset += 8;

  for (let frame = 0; frame < frames; frame++) {
    for (const channel of channels) {
      if (isFloat) view.setFloat32(offset, channel[frame], true);
      else view.setInt16(offset, Math.max(-32768, Math.min(32767, Math.round(channel[frame] * 32768))), true);
      offset += sampleBytes;
    }
  }
  return out;
}

export async function writeWav(path: string, audio: Float32Array | readonly Float32Array[], sampleRate: number, encoding: WavWriteEncoding = "pcm16"): Promise<void> {
  await writeFile(path, encodeWav(audio, sampleRate, encoding));
}
