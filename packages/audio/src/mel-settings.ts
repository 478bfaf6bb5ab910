/**
 * Settings of the NeMo-style log-mel front end, read from either published layout:
 * transformers' `ParakeetFeatureExtractor` (`preprocessor_config.json`) or NeMo's
 * `AudioToMelSpectrogramPreprocessor` (the `preprocessor` section of LFM2-Audio's `config.json`).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { z } from "zod";

export const logMelSettingsSchema = z
  .object({
    sampleRate: z.number().int().positive(),
    /** A power of two (fft.js). */
    nFft: z.number().int().min(2).refine((n) => (n & (n - 1)) === 0, "must be a power of two"),
    /** Hann window length, centred in nFft. */
    winLength: z.number().int().positive(),
    hopLength: z.number().int().positive(),
    mels: z.number().int().positive(),
    fMin: z.number().min(0),
    fMax: z.number().positive(),
    /** Pre-emphasis coefficient; null skips the filter (and the zeroing of samples past the valid length). */
    preemphasis: z.number().nullable(),
    log: z.boolean(),
    /** Added to the mel energies before the log. */
    logGuard: z.number().positive(),
    normalize: z.enum(["per_feature", "all_features", "none"]),
    /** Right-pads the frame count to a multiple of this (0: no padding). */
    padTo: z.number().int().min(0),
    /** Value of frames past the valid ones. */
    padValue: z.number(),
  })
  .refine((s) => s.winLength <= s.nFft, { message: "the window is longer than n_fft", path: ["winLength"] })
  .refine((s) => s.fMin < s.fMax && s.fMax <= s.sampleRate / 2, { message: "needs fMin < fMax ≤ sampleRate/2", path: ["fMax"] });

export type LogMelSettings = z.infer<typeof logMelSettingsSchema>;

const LOG_ZERO_GUARD = 2 ** -24;

const parakeetSchema = z.object({
  feature_extractor_type: z.literal("ParakeetFeatureExtractor").optional(),
  feature_size: z.number().default(80),
  sampling_rate: z.number().default(16000),
  hop_length: z.number().default(160),
  n_fft: z.number().default(512),
  win_length: z.number().default(400),
  preemphasis: z.number().nullable().default(0.97),
});

/** transformers' `ParakeetFeatureExtractor` settings (`preprocessor_config.json`), defaults as that class's. */
export function parakeetLogMelSettings(json: unknown, where = "preprocessor_config.json"): LogMelSettings {
  const raw = parseWith(parakeetSchema, json, where);
  return validated(
    {
      sampleRate: raw.sampling_rate,
      nFft: raw.n_fft,
      winLength: raw.win_length,
      hopLength: raw.hop_length,
      mels: raw.feature_size,
      fMin: 0,
      fMax: raw.sampling_rate / 2,
      preemphasis: raw.preemphasis,
      log: true,
      logGuard: LOG_ZERO_GUARD,
      normalize: "per_feature",
      padTo: 0,
      // The extractor multiplies padded frames by the attention mask: they are 0 whatever its padding_value.
      padValue: 0,
    },
    where,
  );
}

const nemoSchema = z.object({
  sample_rate: z.number().default(16000),
  window_size: z.number().default(0.02),
  window_stride: z.number().default(0.01),
  window: z.literal("hann", { error: 'only the "hann" window is supported' }).default("hann"),
  normalize: z.string().default("per_feature"),
  n_fft: z.number().nullable().default(null),
  preemph: z.number().nullable().default(0.97),
  features: z.number().default(64),
  lowfreq: z.number().default(0),
  highfreq: z.number().nullable().default(null),
  log: z.boolean().default(true),
  frame_splicing: z.literal(1, { error: "frame splicing is not supported (only 1)" }).default(1),
  // Dither is noise added in training mode only; inference ignores it.
  dither: z.number().optional(),
  pad_to: z.number().default(16),
  pad_value: z.number().default(0),
});

/** NeMo `AudioToMelSpectrogramPreprocessor` settings (LFM2-Audio `config.json` → `preprocessor`), defaults as that class's. */
export function nemoLogMelSettings(json: unknown, where = "config.json: preprocessor"): LogMelSettings {
  const raw = parseWith(nemoSchema, json, where);
  // NeMo converts seconds to samples with int(), which truncates.
  const winLength = Math.trunc(raw.window_size * raw.sample_rate);
  return validated(
    {
      sampleRate: raw.sample_rate,
      nFft: raw.n_fft ?? 2 ** Math.ceil(Math.log2(winLength)),
      winLength,
      hopLength: Math.trunc(raw.window_stride * raw.sample_rate),
      mels: raw.features,
      fMin: raw.lowfreq,
      fMax: raw.highfreq ?? raw.sample_rate / 2,
      preemphasis: raw.preemph,
      log: raw.log,
      logGuard: LOG_ZERO_GUARD,
      // NeMo treats any other value as "no normalization".
      normalize: raw.normalize === "per_feature" || raw.normalize === "all_features" ? raw.normalize : "none",
      padTo: raw.pad_to,
      padValue: raw.pad_value,
    },
    where,
  );
}

/**
 * The front-end settings of a model folder: `preprocessor_config.json` (Parakeet layout) if present,
 * else the `preprocessor` section of `config.json` (NeMo layout).
 */
export function readLogMelSettings(dir: string): LogMelSettings {
  const parakeetFile = join(dir, "preprocessor_config.json");
  if (existsSync(parakeetFile)) return parakeetLogMelSettings(readJsonFile(parakeetFile), parakeetFile);
  const configFile = join(dir, "config.json");
  if (!existsSync(configFile)) throw new LfmkitError("no preprocessor_config.json or config.json with audio front-end settings", dir);
  const config = readJsonFile(configFile) as { preprocessor?: unknown };
  if (config.preprocessor === undefined) throw new LfmkitError("config.json has no preprocessor section and there is no preprocessor_config.json", dir);
  return nemoLogMelSettings(config.preprocessor, `${configFile}: preprocessor`);
}

function validated(settings: LogMelSettings, where: string): LogMelSettings {
  return parseWith(logMelSettingsSchema, settings, where);
}

function parseWith<T extends z.ZodType>(schema: T, json: unknown, where: string): z.output<T> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LfmkitError(`${issue.path.join(".") || "settings"}: ${issue.message}`, where);
  }
  return parsed.data;
}

function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new LfmkitError(`not valid JSON (${(error as Error).message.split("\n")[0]})`, path);
  }
}
