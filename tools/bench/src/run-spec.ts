import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { z } from "zod";

/** What one measurement child process runs. */
export const runSpecSchema = z.object({
  model: z.string(),
  vocab: z.number().int().positive(),
  weightFormat: z.string(),
  /** Unset: each runtime's default. */
  threads: z.number().int().positive().optional(),
  /** lfmkit only: longest prompt chunk per forward pass (unset: the library default). */
  prefillChunk: z.number().int().positive().optional(),
  promptTokens: z.number().int().positive(),
  decodeTokens: z.number().int().positive(),
  /**
   * Times the prompt is evaluated from an empty context; the median is reported. One 512-token
   * prefill lasts under a second, so a single one is at the mercy of this VM's scheduling noise.
   */
  prefillRuns: z.number().int().positive().default(3),
  /** 0: no long-context decode. */
  longContext: z.number().int().nonnegative(),
  /**
   * What each decode step is fed: the previous step's argmax ("greedy"), or the continuation of the
   * synthetic prompt ("fixed"). Random weights decode greedily into one token over and over, which a
   * mixture of experts routes to the same experts at every step; text does not.
   */
  decodeInput: z.enum(["greedy", "fixed"]).default("greedy"),
});

export type RunSpec = z.input<typeof runSpecSchema>;

export interface RunResult {
  loadMs: number;
  graphCached: boolean;
  /** Peak RSS right after loading, and over the whole run. */
  loadPeakRssBytes: number;
  peakRssBytes: number;
  /** Bytes of the weights as loaded: lfmkit's graph data file and embedding table, or the GGUF file. */
  weightBytes: number;
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

/**
 * What both runners evaluate before measuring: a prompt as long as the measured one, then a few
 * decode steps, as llama-bench warms up with a full-size prompt batch. First-run allocations, page
 * faults and kernel setup for the prompt's shapes are then not counted as throughput.
 */
export const warmUp = (spec: RunSpec) => ({ prompt: syntheticPrompt(spec.promptTokens, spec.vocab), decodeSteps: 4 });

const here = dirname(fileURLToPath(import.meta.url));

/**
 * Runs one measurement (`run-lfmkit.js` or `run-llama.js`) in a fresh process, so its peak RSS is its
 * own, with `cacheDir` as lfmkit's graph cache when given.
 */
export function measure(script: "run-lfmkit.js" | "run-llama.js", spec: RunSpec, cacheDir?: string): RunResult {
  const child = spawnSync(process.execPath, [join(here, script), JSON.stringify(spec)], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
    env: cacheDir ? { ...process.env, LFMKIT_CACHE_DIR: cacheDir } : process.env,
  });
  if (child.status !== 0) throw new Error(`${script} failed on ${spec.model} ${spec.weightFormat}: ${failureLine(child.stderr) || `killed by ${child.signal ?? "an unknown cause"}`}`);
  return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as RunResult;
}

/**
 * The thrown error's own line from a child's stderr: Node prints the throwing source line before it
 * and the error's fields and causes after it, indented, so it is the last unindented error line.
 */
function failureLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  return lines.findLast((line) => /^\w*(Error|Exception)\b/.test(line)) ?? lines.slice(-3).join(" | ");
}
