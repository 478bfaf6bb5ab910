/** `lfm audio encode | decode | features`: the audio parts on their own (Mimi codec, log-mel + conformer). */
import { readFileSync } from "node:fs";
import { ConformerEncoder, MimiCodec, codesFromFrames, loadAudio, logMel, readLogMelSettings, writeWav, type MimiCodes } from "@lfmkit/audio";
import { LfmkitError, type WeightFormat } from "@lfmkit/core";
import { z } from "zod";

export interface AudioCommonArgs {
  model: string;
  weightFormat: WeightFormat;
  threads?: number;
  cacheDir?: string;
  json: boolean;
}

export async function runEncode(args: AudioCommonArgs & { input: string; codebooks?: number }): Promise<void> {
  const codec = await MimiCodec.load(args.model, { codebooks: args.codebooks, weightFormat: args.weightFormat, threads: args.threads, cacheDir: args.cacheDir });
  try {
    const started = performance.now();
    const codes = await codec.encode(await loadAudio(args.input, codec.sampleRate));
    const frames = Array.from({ length: codes.codebooks }, (_, c) => Array.from(codes.data.subarray(c * codes.frames, (c + 1) * codes.frames)));
    const seconds = (performance.now() - started) / 1000;
    if (args.json) process.stdout.write(`${JSON.stringify({ codes: frames, codebooks: codes.codebooks, frames: codes.frames, seconds })}\n`);
    else process.stdout.write(`${codes.codebooks} codebooks × ${codes.frames} frames in ${seconds.toFixed(2)} s\n`);
  } finally {
    await codec.dispose();
  }
}

export async function runDecode(args: AudioCommonArgs & { codes: string; output: string }): Promise<void> {
  const codes = readCodes(args.codes);
  const codec = await MimiCodec.load(args.model, { codebooks: codes.codebooks, weightFormat: args.weightFormat, threads: args.threads, cacheDir: args.cacheDir });
  try {
    const audio = await codec.decode(codes).catch((error: unknown) => {
      throw error instanceof LfmkitError && !error.where ? new LfmkitError(error.message, args.codes) : error;
    });
    await writeWav(args.output, audio, codec.sampleRate);
    const summary = { output: args.output, samples: audio.length, sample_rate: codec.sampleRate, seconds: audio.length / codec.sampleRate };
    process.stdout.write(args.json ? `${JSON.stringify(summary)}\n` : `${summary.seconds.toFixed(2)} s of audio written to ${args.output}\n`);
  } finally {
    await codec.dispose();
  }
}

export async function runFeatures(args: AudioCommonArgs & { input: string }): Promise<void> {
  const settings = readLogMelSettings(args.model);
  const encoder = await ConformerEncoder.load(args.model, { weightFormat: args.weightFormat, threads: args.threads, cacheDir: args.cacheDir });
  try {
    const started = performance.now();
    const samples = await loadAudio(args.input, settings.sampleRate);
    const mel = logMel(samples, settings);
    const melMs = performance.now() - started;
    const encoded = await encoder.encode(mel.features, mel.frames, mel.validFrames);
    const encoderMs = performance.now() - started - melMs;
    const summary = {
      audio_seconds: samples.length / settings.sampleRate,
      mel: { frames: mel.frames, mels: mel.mels },
      features: { frames: encoded.frames, valid_frames: encoded.validFrames, width: encoded.width },
      timings: { log_mel_ms: melMs, encoder_ms: encoderMs },
    };
    process.stdout.write(args.json ? `${JSON.stringify(summary)}\n` : `${encoded.validFrames} × ${encoded.width} features from ${summary.audio_seconds.toFixed(2)} s (log-mel ${melMs.toFixed(0)} ms, encoder ${encoderMs.toFixed(0)} ms)\n`);
  } finally {
    await encoder.dispose();
  }
}

const codesFileSchema = z.union([z.object({ codes: z.array(z.array(z.number().int())) }), z.array(z.array(z.number().int()))]);

/** A codes file: `{"codes": [[...], ...]}` (as `lfm audio encode --json` prints) or the bare array, [codebooks][frames]. */
function readCodes(path: string): MimiCodes {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new LfmkitError(code === "ENOENT" ? "file not found" : `not a JSON codes file (${(error as Error).message.split("\n")[0]})`, path);
  }
  const parsed = codesFileSchema.safeParse(json);
  if (!parsed.success) throw new LfmkitError("expected {\"codes\": [[integer, ...], ...]} with one row of codes per codebook", path);
  const rows = Array.isArray(parsed.data) ? parsed.data : parsed.data.codes;
  if (rows.length === 0 || rows[0].length === 0) throw new LfmkitError("the codes are empty", path);
  if (rows.some((r) => r.length !== rows[0].length)) throw new LfmkitError(`every codebook needs the same number of frames (${rows.map((r) => r.length).join(", ")})`, path);
  const frames = rows[0].map((_, f) => rows.map((r) => r[f]));
  try {
    return codesFromFrames(frames);
  } catch (error) {
    throw new LfmkitError((error as Error).message, path);
  }
}
