import { z } from "zod";

/** What one measurement child process runs. */
export const runSpecSchema = z.object({
  model: z.string(),
  vocab: z.number().int().positive(),
  dtype: z.string(),
  threads: z.number().int().positive(),
  promptTokens: z.number().int().positive(),
  decodeTokens: z.number().int().positive(),
  /** 0: no long-context decode. */
  longContext: z.number().int().nonnegative(),
});

export type RunSpec = z.infer<typeof runSpecSchema>;

export interface RunResult {
  loadMs: number;
  graphCached: boolean;
  peakRssBytes: number;
  prefillTokensPerSecond: number;
  timeToFirstTokenMs: number;
  decodeTokensPerSecond: number;
  decodeLongTokensPerSecond: number | undefined;
  firstToken: number;
}

/** A deterministic prompt of ordinary (non-control) ids spread over the vocabulary. */
export function syntheticPrompt(length: number, vocab: number): number[] {
  return Array.from({ length }, (_, i) => 100 + ((i * 7919) % (vocab - 100)));
}
