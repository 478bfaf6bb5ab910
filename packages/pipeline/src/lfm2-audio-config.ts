/**
 * The top level of an LFM2-Audio `config.json` (architecture notes §4.1). The `lfm`, `encoder` and
 * `preprocessor` sections are read by the backbone, the conformer and the log-mel front end.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { z } from "zod";

const positive = z.number().int().positive();

const configSchema = z.object({
  codebooks: positive,
  interleaved_n_text: positive,
  interleaved_n_audio: positive,
  depthformer: z.object({ layers: positive, dim: positive, tie: z.boolean().default(true) }),
});

export interface LFM2AudioConfig {
  /** Mimi codebooks per generated audio frame. */
  readonly codebooks: number;
  /** Interleaved generation: text steps, then audio steps, per round. */
  readonly interleavedText: number;
  readonly interleavedAudio: number;
  readonly depthformer: { readonly layers: number; readonly dim: number; readonly tie: boolean };
}

export function readLFM2AudioConfig(dir: string): LFM2AudioConfig {
  const path = join(dir, "config.json");
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new LfmkitError(`cannot read an LFM2-Audio config (${(error as Error).message.split("\n")[0]})`, path);
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LfmkitError(`${issue.path.join(".") || "config"}: ${issue.message}`, path);
  }
  const raw = parsed.data;
  return {
    codebooks: raw.codebooks,
    interleavedText: raw.interleaved_n_text,
    interleavedAudio: raw.interleaved_n_audio,
    depthformer: raw.depthformer,
  };
}
