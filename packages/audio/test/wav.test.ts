import { closeSync, openSync, readFileSync, writeFileSync, ftruncateSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { scratchDir } from "@lfmkit/testing";
import wavDecoder from "wav-decoder";
import { describe, expect, it } from "vitest";
import { DEFAULT_MAX_DURATION_SECONDS, WavReader, encodeWav, readWav, writeWav } from "../src/index.js";
import { BITS, expectedSample, extensibleFmtChunk, fmtChunk, riffWave, sampleBytes, type Encoding } from "./riff.js";

const dir = scratchDir("audio-wav");
let fileCount = 0;

function scratchFile(bytes: Uint8Array, name = `case-${fileCount++}.wav`): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

/** Codes spanning each encoding's range: extremes, zero, and values in between. */
const CODES: Record<Encoding, number[]> = {
  uint8: [0, 1, 64, 127, 128, 129, 200, 255],
  int16: [-32768, -12345, -1, 0, 1, 777, 20000, 32767],
  int24: [-8388608, -4000000, -1, 0, 1, 123456, 5000000, 8388607],
  int32: [-2147483648, -1000000007, -1, 0, 1, 65537, 1500000000, 2147483647],
  float32: [-1, -0.75, -1e-6, 0, 0.1, 0.5, 0.999, 1.25],
  float64: [-1, -0.3333333333333333, -1e-9, 0, 0.1, 0.5, 0.999, 2],
};

/** Stereo frames pairing each code with the code list reversed, so both channels matter. */
function stereoFrames(codes: number[]): number[][] {
  return codes.map((code, i) => [code, codes[codes.length - 1 - i]]);
}

function downmixed(encoding: Encoding, frames: number[][]): Float32Array {
  return Float32Array.from(frames, (frame) => frame.reduce((sum, code) => sum + expectedSample(encoding, code), 0) / frame.length);
}

const FORMAT_TAG = (encoding: Encoding) => (encoding.startsWith("float") ? 3 : 1);

async function expectOneLineError(path: string, fragment: RegExp): Promise<void> {
  const error = await readWav(path).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LfmkitError);
  const message = (error as LfmkitError).message;
  expect(message).not.toContain("\n");
  expect(message).toContain(path);
  expect(message).toMatch(fragment);
}

describe("WAV formats", () => {
  for (const encoding of Object.keys(CODES) as Encoding[]) {
    for (const channels of [1, 2]) {
      it(`reads ${BITS[encoding]}-bit ${encoding.startsWith("float") ? "float" : "integer"} ${channels === 1 ? "mono" : "stereo"} as float mono`, async () => {
        const frames = channels === 1 ? CODES[encoding].map((code) => [code]) : stereoFrames(CODES[encoding]);
        const path = scratchFile(
          riffWave([fmtChunk({ formatTag: FORMAT_TAG(encoding), channels, sampleRate: 8000, bitsPerSample: BITS[encoding] }), ["data", sampleBytes(encoding, frames)]]),
        );
        const wav = await readWav(path);
        expect(wav.sampleRate).toBe(8000);
        expect(wav.channels).toBe(channels);
        expect(Array.from(wav.samples)).toEqual(Array.from(downmixed(encoding, frames)));
      });
    }
  }

  it("maps integer extremes to −1 and (2^(n−1)−1)/2^(n−1), and 8-bit 128 to 0, as torchaudio does", async () => {
    const path = scratchFile(riffWave([fmtChunk({ formatTag: 1, channels: 1, sampleRate: 8000, bitsPerSample: 8 }), ["data", Buffer.from([0, 128, 255])]]));
    expect(Array.from((await readWav(path)).samples)).toEqual([-1, 0, 127 / 128]);
  });

  it("averages 6 channels", async () => {
    const frames = [[32767, -32768, 100, 200, 300, 400]];
    const path = scratchFile(riffWave([fmtChunk({ formatTag: 1, channels: 6, sampleRate: 48000, bitsPerSample: 16 }), ["data", sampleBytes("int16", frames)]]));
    expect(Array.from((await readWav(path)).samples)).toEqual(Array.from(downmixed("int16", frames)));
  });

  it("reads WAVE_FORMAT_EXTENSIBLE PCM and float (wav-decoder rejects both)", async () => {
    const cases = [
      { subFormat: 1, encoding: "int24" as const },
      { subFormat: 1, encoding: "int16" as const },
      { subFormat: 3, encoding: "float32" as const },
    ];
    for (const { subFormat, encoding } of cases) {
      const frames = stereoFrames(CODES[encoding]);
      const bytes = riffWave([extensibleFmtChunk({ subFormat, channels: 2, sampleRate: 44100, bitsPerSample: BITS[encoding] }), ["data", sampleBytes(encoding, frames)]]);
      expect(Array.from((await readWav(scratchFile(bytes))).samples)).toEqual(Array.from(downmixed(encoding, frames)));
      expect(() => wavDecoder.decode.sync(bytes)).toThrow(/Unsupported format in WAV file: 0xfffe/);
    }
  });

  it("reads 20-bit samples in 24-bit EXTENSIBLE containers by their container (left-justified)", async () => {
    const frames = [[0x123450], [-0x100000]]; // low 4 bits zero: 20 valid bits
    const bytes = riffWave([extensibleFmtChunk({ subFormat: 1, channels: 1, sampleRate: 16000, bitsPerSample: 24, validBits: 20 }), ["data", sampleBytes("int24", frames)]]);
    expect(Array.from((await readWav(scratchFile(bytes))).samples)).toEqual(Array.from(downmixed("int24", frames)));
  });

  it("skips odd-sized and unknown chunks by their pad byte (wav-decoder mis-parses the chunk list)", async () => {
    const frames = CODES.int16.map((code) => [code]);
    const bytes = riffWave([
      ["JUNK", Buffer.from("x")],
      fmtChunk({ formatTag: 1, channels: 1, sampleRate: 16000, bitsPerSample: 16 }),
      ["LIST", Buffer.from("INFOabc")],
      ["data", sampleBytes("int16", frames)],
      ["id3 ", Buffer.from("trailing odd chunk")],
    ]);
    expect(Array.from((await readWav(scratchFile(bytes))).samples)).toEqual(Array.from(downmixed("int16", frames)));
    expect(() => wavDecoder.decode.sync(bytes)).toThrow();
  });

  it("reads an odd-sized 8-bit mono data chunk followed by its pad byte and another chunk", async () => {
    const frames = [[10], [128], [250]];
    const bytes = riffWave([fmtChunk({ formatTag: 1, channels: 1, sampleRate: 8000, bitsPerSample: 8 }), ["data", sampleBytes("uint8", frames)], ["LIST", Buffer.from("INFO")]]);
    expect(Array.from((await readWav(scratchFile(bytes))).samples)).toEqual(Array.from(downmixed("uint8", frames)));
  });

  it("reads a data chunk placed before the fmt chunk", async () => {
    const frames = CODES.int16.map((code) => [code]);
    const bytes = riffWave([["data", sampleBytes("int16", frames)], fmtChunk({ formatTag: 1, channels: 1, sampleRate: 16000, bitsPerSample: 16 })]);
    expect(Array.from((await readWav(scratchFile(bytes))).samples)).toEqual(Array.from(downmixed("int16", frames)));
  });

  it("scales 16-bit samples symmetrically, where wav-decoder's default divides positives by 32767", async () => {
    const bytes = riffWave([fmtChunk({ formatTag: 1, channels: 1, sampleRate: 8000, bitsPerSample: 16 }), ["data", sampleBytes("int16", [[32767], [-32768]])]]);
    expect(Array.from((await readWav(scratchFile(bytes))).samples)).toEqual([32767 / 32768, -1]);
    expect(Array.from(wavDecoder.decode.sync(bytes).channelData[0])).toEqual([1, -1]);
  });
});

describe("WAV writing", () => {
  const channel = Float32Array.from({ length: 1000 }, (_, i) => Math.fround(0.9 * Math.sin(i / 7) + 0.05 * Math.cos(i / 3)));

  it("round-trips float32 exactly, mono and stereo (downmixed on reading)", async () => {
    const path = join(dir, "float.wav");
    await writeWav(path, channel, 22050, "float32");
    const mono = await readWav(path);
    expect(mono).toMatchObject({ sampleRate: 22050, channels: 1 });
    expect(mono.samples).toEqual(channel);

    const other = channel.map((x) => -x / 2);
    await writeWav(path, [channel, other], 22050, "float32");
    const stereo = await readWav(path);
    expect(stereo.channels).toBe(2);
    expect(stereo.samples).toEqual(channel.map((x, i) => (x + other[i]) / 2));
  });

  it("writes pcm16 to within half a step, clips, and round-trips 16-bit audio bit for bit", async () => {
    const path = join(dir, "pcm16.wav");
    await writeWav(path, Float32Array.from([...channel, 1.5, -1.5]), 16000, "pcm16");
    const read = await readWav(path);
    for (let i = 0; i < channel.length; i++) expect(Math.abs(read.samples[i] - channel[i])).toBeLessThanOrEqual(0.5 / 32768);
    expect(Array.from(read.samples.slice(-2))).toEqual([32767 / 32768, -1]);

    const again = join(dir, "pcm16-again.wav");
    await writeWav(again, read.samples, read.sampleRate, "pcm16");
    expect(readFileSync(again)).toEqual(readFileSync(path));
  });

  it("writes headers other readers accept (wav-decoder decodes the same samples)", () => {
    const bytes = encodeWav(channel, 16000, "float32");
    const decoded = wavDecoder.decode.sync(Buffer.from(bytes));
    expect(decoded.sampleRate).toBe(16000);
    expect(decoded.channelData[0]).toEqual(channel);
  });

  it("rejects channels of different lengths", () => {
    expect(() => encodeWav([new Float32Array(3), new Float32Array(2)], 16000, "pcm16")).toThrow(LfmkitError);
  });
});

describe("streaming and long files", () => {
  it("streams float mono blocks of at most blockFrames that concatenate to readWav's samples", async () => {
    const frames = Array.from({ length: 1001 }, (_, i) => [(i * 37) % 65536 - 32768, (i * 91) % 65536 - 32768]);
    const path = scratchFile(riffWave([fmtChunk({ formatTag: 1, channels: 2, sampleRate: 16000, bitsPerSample: 16 }), ["data", sampleBytes("int16", frames)]]));
    const reader = await WavReader.open(path, { blockFrames: 100 });
    expect(reader.info).toMatchObject({ frames: 1001, channels: 2, sampleRate: 16000, encoding: "int16" });
    const blocks: Float32Array[] = [];
    for await (const block of reader.blocks()) blocks.push(block);
    expect(blocks.map((b) => b.length)).toEqual([...Array(10).fill(100), 1]);
    expect(Float32Array.from(blocks.flatMap((b) => Array.from(b)))).toEqual((await readWav(path)).samples);
  });

  /** A real two-hour 16 kHz 16-bit WAV (230 MB), sparse on disk: only the header is written. */
  function twoHourSparseWav(): string {
    const seconds = 2 * 3600;
    const dataBytes = seconds * 16000 * 2;
    const header = riffWave([fmtChunk({ formatTag: 1, channels: 1, sampleRate: 16000, bitsPerSample: 16 }), ["data", Buffer.alloc(0)]], { riffSize: 36 + dataBytes });
    header.writeUInt32LE(dataBytes, 40);
    const path = scratchFile(header, "two-hours.wav");
    const fd = openSync(path, "r+");
    ftruncateSync(fd, header.length + dataBytes);
    closeSync(fd);
    return path;
  }

  it("refuses a two-hour file from its header, under the default limit", async () => {
    expect(DEFAULT_MAX_DURATION_SECONDS).toBe(1800);
    await expectOneLineError(twoHourSparseWav(), /2:00:00 long, over the 30:00 limit/);
  });

  it("refuses a tiny file whose header claims two hours as lying, before reading anything", async () => {
    const header = riffWave([fmtChunk({ formatTag: 1, channels: 1, sampleRate: 16000, bitsPerSample: 16 }), ["data", Buffer.alloc(0)]]);
    header.writeUInt32LE(2 * 3600 * 16000 * 2, 40);
    await expectOneLineError(scratchFile(header), /header lies about its sizes: the data chunk claims 230400000 bytes but only 0 follow it/);
  });

  it("streams a two-hour file in bounded blocks when the limit is lifted", async () => {
    const reader = await WavReader.open(twoHourSparseWav(), { maxDurationSeconds: Infinity, blockFrames: 4096 });
    expect(reader.info.durationSeconds).toBe(7200);
    let seen = 0;
    for await (const block of reader.blocks()) {
      expect(block.length).toBe(4096);
      if (++seen === 3) break; // leaving the loop closes the file
    }
    await reader.close(); // harmless when already closed
  });
});

describe("bad input → one-line LfmkitError naming the file", () => {
  const good = () => riffWave([fmtChunk({ formatTag: 1, channels: 1, sampleRate: 16000, bitsPerSample: 16 }), ["data", sampleBytes("int16", CODES.int16.map((c) => [c]))]]);

  it("missing file", async () => {
    await expectOneLineError(join(dir, "does-not-exist.wav"), /file not found/);
  });

  it("a directory", async () => {
    await expectOneLineError(dir, /not a regular file/);
  });

  it("empty file", async () => {
    await expectOneLineError(scratchFile(new Uint8Array(0)), /empty file/);
  });

  it("an MP3 renamed .wav (ID3 tag, or bare MPEG frame sync)", async () => {
    await expectOneLineError(scratchFile(Buffer.concat([Buffer.from("ID3"), Buffer.alloc(100)])), /MP3 file, not a WAV.*ID3/);
    await expectOneLineError(scratchFile(Buffer.concat([Buffer.from([0xff, 0xfb, 0x90, 0x64]), Buffer.alloc(100)])), /MP3 file, not a WAV.*frame sync/);
  });

  it("not a RIFF/WAVE file", async () => {
    await expectOneLineError(scratchFile(Buffer.from("hello, this is text and not audio at all")), /not a WAV file/);
  });

  it("truncated in the RIFF header, in the chunk list, and in the audio", async () => {
    const bytes = good();
    await expectOneLineError(scratchFile(bytes.subarray(0, 10)), /truncated WAV.*RIFF header/);
    await expectOneLineError(scratchFile(bytes.subarray(0, 30)), /truncated WAV.*'fmt '/);
    await expectOneLineError(scratchFile(bytes.subarray(0, 40)), /truncated WAV.*'data'/);
    await expectOneLineError(scratchFile(bytes.subarray(0, bytes.length - 5)), /truncated WAV.*inside its audio/);
  });

  it("a header that lies about its sizes", async () => {
    const dataTooLong = good();
    dataTooLong.writeUInt32LE(dataTooLong.readUInt32LE(40) + 1000, 40);
    await expectOneLineError(scratchFile(dataTooLong), /lies about its sizes.*data chunk claims/);

    const partialFrame = good();
    partialFrame.writeUInt32LE(partialFrame.readUInt32LE(40) - 1, 40);
    await expectOneLineError(scratchFile(partialFrame), /lies about its sizes.*not a whole number/);

    const badBlockAlign = riffWave([fmtChunk({ formatTag: 1, channels: 2, sampleRate: 16000, bitsPerSample: 16, blockAlign: 3 }), ["data", Buffer.alloc(12)]]);
    await expectOneLineError(scratchFile(badBlockAlign), /lies about its sizes.*block align 3/);

    const shortFmt = riffWave([["fmt ", Buffer.alloc(8)], ["data", Buffer.alloc(4)]]);
    await expectOneLineError(scratchFile(shortFmt), /lies about its sizes.*'fmt ' chunk has 8 bytes/);
  });

  it("zero samples", async () => {
    await expectOneLineError(scratchFile(riffWave([fmtChunk({ formatTag: 1, channels: 1, sampleRate: 16000, bitsPerSample: 16 }), ["data", Buffer.alloc(0)]])), /zero samples/);
  });

  it("no data chunk, and an unsupported encoding", async () => {
    await expectOneLineError(scratchFile(riffWave([fmtChunk({ formatTag: 1, channels: 1, sampleRate: 16000, bitsPerSample: 16 })])), /no 'data' chunk/);
    const adpcm = riffWave([fmtChunk({ formatTag: 2, channels: 1, sampleRate: 16000, bitsPerSample: 4, blockAlign: 256 }), ["data", Buffer.alloc(256)]]);
    await expectOneLineError(scratchFile(adpcm), /unsupported WAV encoding \(format tag 0x0002, 4-bit\)/);
  });
});

describe("WAV bytes in memory", () => {
  it("read the same as the file they came from, and fail the same way", async () => {
    const dir = scratchDir("wav-bytes");
    const path = join(dir, "stereo.wav");
    await writeWav(path, [Float32Array.from({ length: 999 }, (_, i) => Math.sin(i / 7)), Float32Array.from({ length: 999 }, (_, i) => Math.cos(i / 5))], 22050, "pcm16");
    const [fromFile, fromBytes] = [await readWav(path), await readWav(readFileSync(path))];
    expect(fromBytes).toEqual(fromFile);
    await expect(readWav(readFileSync(path).subarray(0, 30))).rejects.toThrow(/^audio bytes: /);
  });
});
