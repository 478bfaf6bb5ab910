/**
 * Reading WAV files as float mono in bounded memory: the header is checked before any audio is read
 * (a file longer than `maxDurationSeconds` is refused from it), then the samples are read through a
 * file handle one block at a time.
 */
import { open, type FileHandle } from "node:fs/promises";
import { LfmkitError } from "@lfmkit/core";
import { decodeToMono } from "./wav-decode.js";
import { bytesSource, readWavHeader, type ByteSource, type WavInfo } from "./wav-header.js";

export type { SampleEncoding, WavInfo } from "./wav-header.js";

export interface WavReadOptions {
  /** Files whose header declares a longer duration are refused before their audio is read. Default 30 minutes. */
  maxDurationSeconds?: number;
  /** Frames per block of the streaming reader. Default 65536. */
  blockFrames?: number;
}

export interface WavAudio {
  /** Float mono samples (channels averaged) at the file's rate. */
  samples: Float32Array;
  sampleRate: number;
  /** Channels in the file, before the downmix. */
  channels: number;
}

export const DEFAULT_MAX_DURATION_SECONDS = 30 * 60;
const DEFAULT_BLOCK_FRAMES = 65536;

/** An open WAV file: its checked header, and its samples as float mono blocks. */
export class WavReader {
  private closed = false;

  private constructor(
    readonly path: string,
    readonly info: WavInfo,
    private readonly file: ByteSource,
    private readonly blockFrames: number,
  ) {}

  static async open(path: string, options: WavReadOptions = {}): Promise<WavReader> {
    return WavReader.over(await openFile(path), path, options);
  }

  /** A WAV file's bytes already in memory; `name` stands for the file in error messages. */
  static fromBytes(bytes: Uint8Array, name: string, options: WavReadOptions = {}): Promise<WavReader> {
    return WavReader.over({ file: bytesSource(bytes), size: bytes.length }, name, options);
  }

  private static async over({ file, size }: { file: ByteSource; size: number }, path: string, options: WavReadOptions): Promise<WavReader> {
    const { maxDurationSeconds = DEFAULT_MAX_DURATION_SECONDS, blockFrames = DEFAULT_BLOCK_FRAMES } = options;
    if (!(maxDurationSeconds > 0)) throw new LfmkitError(`maxDurationSeconds must be positive, got ${maxDurationSeconds}`, path);
    if (!Number.isInteger(blockFrames) || blockFrames <= 0) throw new LfmkitError(`blockFrames must be a positive integer, got ${blockFrames}`, path);
    try {
      const info = await readWavHeader(file, size, path, maxDurationSeconds);
      return new WavReader(path, info, file, blockFrames);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /**
   * The samples as consecutive float mono blocks of at most `blockFrames` frames. Memory stays at one
   * block whatever the file's length. Iterate once; the file is closed when the iteration ends or stops.
   */
  async *blocks(): AsyncGenerator<Float32Array> {
    const { frames, blockAlign, channels, encoding, dataOffset } = this.info;
    const bytes = new Uint8Array(Math.min(frames, this.blockFrames) * blockAlign);
    try {
      for (let first = 0; first < frames; first += this.blockFrames) {
        const count = Math.min(this.blockFrames, frames - first);
        await this.readExactly(bytes.subarray(0, count * blockAlign), dataOffset + first * blockAlign);
        yield decodeToMono(bytes, count, channels, encoding);
      }
    } finally {
      await this.close();
    }
  }

  /** Closes the file; needed only when `blocks()` is not iterated to its end. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.file.close();
  }

  private async readExactly(target: Uint8Array, position: number): Promise<void> {
    for (let filled = 0; filled < target.length; ) {
      const { bytesRead } = await this.file.read(target, filled, target.length - filled, position + filled);
      if (bytesRead === 0) throw new LfmkitError(`truncated WAV: the file ended at byte ${position + filled} while its audio was being read`, this.path);
      filled += bytesRead;
    }
  }
}

/**
 * Reads a whole WAV file (a path, or the file's bytes) as float mono, block by block into one buffer
 * sized from the header.
 */
export async function readWav(input: string | Uint8Array, options: WavReadOptions = {}): Promise<WavAudio> {
  const reader = typeof input === "string" ? await WavReader.open(input, options) : await WavReader.fromBytes(input, "audio bytes", options);
  const samples = new Float32Array(reader.info.frames);
  let filled = 0;
  for await (const block of reader.blocks()) {
    samples.set(block, filled);
    filled += block.length;
  }
  return { samples, sampleRate: reader.info.sampleRate, channels: reader.info.channels };
}

/** Opens a file for reading, with one-line errors for a missing or unreadable path. */
async function openFile(path: string): Promise<{ file: FileHandle; size: number }> {
  let file: FileHandle;
  try {
    file = await open(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LfmkitError(code === "ENOENT" ? "file not found" : `cannot open the file (${code ?? (error as Error).message})`, path);
  }
  const info = await file.stat();
  if (!info.isFile()) {
    await file.close();
    throw new LfmkitError("not a regular file", path);
  }
  return { file, size: info.size };
}
