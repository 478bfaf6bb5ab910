#!/usr/bin/env node
/**
 * LFM2-8B-A1B (sparse MoE) next to a dense LFM2-1.2B, both synthetic checkpoints of the real shapes:
 * load time (graph built, then cached), peak RSS during a cached load against the loaded weight bytes,
 * and decode tokens/s at the same weight format. Results go to results/moe-<weight-format>.json.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { weightFormatSchema } from "@lfmkit/core";
import { Command, Option } from "commander";
import { z } from "zod";
import { measure, type RunSpec } from "./run-spec.js";
import { SHAPE_VOCAB, writeSyntheticCheckpoint, type ShapeName } from "./synthetic.js";

const here = dirname(fileURLToPath(import.meta.url));
const program = new Command()
  .name("bench-moe")
  .addOption(new Option("--weight-format <format>", "weight format of both models").choices(weightFormatSchema.exclude(["f32"]).options).default("q4"))
  .option("--decode-tokens <n>", "decode steps measured", "64")
  .option("--threads <n>", "ONNX Runtime intra-op threads")
  .option("--work <dir>", "where the synthetic checkpoints are written", join(here, "..", ".work"))
  .option("--json", "print the result as one JSON line");
program.parse();
const args = z
  .object({
    weightFormat: weightFormatSchema.exclude(["f32"]),
    decodeTokens: z.coerce.number().int().positive(),
    threads: z.coerce.number().int().positive().optional(),
    work: z.string(),
    json: z.boolean().default(false),
  })
  .parse(program.opts());

const gb = (bytes: number) => bytes / 1e9;
const results: Record<string, unknown> = {};
for (const shape of ["lfm2-8b-a1b", "lfm2-1.2b"] as ShapeName[]) {
  const spec: RunSpec = {
    model: writeSyntheticCheckpoint(shape, args.work),
    vocab: SHAPE_VOCAB,
    weightFormat: args.weightFormat,
    threads: args.threads,
    promptTokens: 256,
    decodeTokens: args.decodeTokens,
    longContext: 0,
  };
  const first = measure("run-lfmkit.js", spec);
  const cached = measure("run-lfmkit.js", spec);
  const fixedInput = measure("run-lfmkit.js", { ...spec, decodeInput: "fixed" });
  const rssLimit = 1.25 * cached.weightBytes + 300e6;
  results[shape] = {
    buildLoadMs: first.graphCached ? null : Math.round(first.loadMs),
    cachedLoadMs: Math.round(cached.loadMs),
    weightGB: +gb(cached.weightBytes).toFixed(3),
    peakRssGB: +gb(cached.loadPeakRssBytes).toFixed(3),
    peakRssLimitGB: +gb(rssLimit).toFixed(3),
    peakRssWithinLimit: cached.loadPeakRssBytes <= rssLimit,
    buildPeakRssGB: first.graphCached ? null : +gb(first.loadPeakRssBytes).toFixed(3),
    decodeTokensPerSecond: +cached.decodeTokensPerSecond.toFixed(2),
    decodeFixedInputTokensPerSecond: +fixedInput.decodeTokensPerSecond.toFixed(2),
  };
  if (!args.json) console.log(shape, results[shape]);
}
type Decode = { decodeTokensPerSecond: number; decodeFixedInputTokensPerSecond: number };
const moe = results["lfm2-8b-a1b"] as Decode;
const dense = results["lfm2-1.2b"] as Decode;
const summary = {
  weightFormat: args.weightFormat,
  threads: args.threads ?? "default",
  decodeInput: {
    greedy: "each step is fed the previous argmax: random weights repeat one token, so the same experts run at every step",
    fixed: "each step is fed the prompt's continuation, so the experts chosen change from step to step",
  },
  results,
  ratios: {
    "decode_8b-a1b_vs_1.2b": +(moe.decodeTokensPerSecond / dense.decodeTokensPerSecond).toFixed(3),
    "decode_fixed_input_8b-a1b_vs_1.2b": +(moe.decodeFixedInputTokensPerSecond / dense.decodeFixedInputTokensPerSecond).toFixed(3),
  },
  date: new Date().toISOString(),
};
mkdirSync(join(here, "..", "results"), { recursive: true });
writeFileSync(join(here, "..", "results", `moe-${args.weightFormat}.json`), `${JSON.stringify(summary, null, 2)}\n`);
console.log(
  args.json
    ? JSON.stringify(summary)
    : `decode 8B-A1B / dense 1.2B at ${args.weightFormat}: ${summary.ratios["decode_8b-a1b_vs_1.2b"]} greedy, ${summary.ratios["decode_fixed_input_8b-a1b_vs_1.2b"]} fixed input`,
);
