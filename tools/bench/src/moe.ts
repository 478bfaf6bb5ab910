#!/usr/bin/env node
/**
 * LFM2-8B-A1B (sparse MoE) next to a dense LFM2-1.2B, both synthetic checkpoints of the real shapes:
 * load time (graph built, then cached), peak RSS during a cached load against the loaded weight bytes,
 * and decode tokens/s at the same weight format. Results go to results/moe-<dtype>.json.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, Option } from "commander";
import { z } from "zod";
import { writeSyntheticCheckpoint, type ShapeName } from "./synthetic.js";

const here = dirname(fileURLToPath(import.meta.url));
const program = new Command()
  .name("bench-moe")
  .addOption(new Option("--dtype <dtype>", "weight format of both models").choices(["q8", "q4"]).default("q4"))
  .option("--decode-tokens <n>", "decode steps measured", "64")
  .option("--threads <n>", "ONNX Runtime intra-op threads")
  .option("--work <dir>", "where the synthetic checkpoints are written", join(here, "..", ".work"))
  .option("--json", "print the result as one JSON line");
program.parse();
const args = z
  .object({
    dtype: z.enum(["q8", "q4"]),
    decodeTokens: z.coerce.number().int().positive(),
    threads: z.coerce.number().int().positive().optional(),
    work: z.string(),
    json: z.boolean().default(false),
  })
  .parse(program.opts());

const probeResult = z.object({ loadMs: z.number(), built: z.boolean(), peakRssBytes: z.number(), weightBytes: z.number(), decodeTokensPerSecond: z.number() });

function probe(dir: string): z.infer<typeof probeResult> {
  const run = spawnSync(process.execPath, [join(here, "load-probe.js"), dir, args.dtype, String(args.decodeTokens), ...(args.threads ? [String(args.threads)] : [])], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
  });
  if (run.status !== 0) throw new Error(`load probe failed for ${dir}: ${run.stderr.trim().split("\n").at(-1)}`);
  return probeResult.parse(JSON.parse(run.stdout.trim().split("\n").at(-1)!));
}

const gb = (bytes: number) => bytes / 1e9;
const results: Record<string, unknown> = {};
for (const shape of ["lfm2-8b-a1b", "lfm2-1.2b"] as ShapeName[]) {
  const dir = writeSyntheticCheckpoint(shape, args.work);
  const first = probe(dir);
  const cached = probe(dir);
  const rssLimit = 1.25 * cached.weightBytes + 300e6;
  results[shape] = {
    buildLoadMs: first.built ? Math.round(first.loadMs) : null,
    cachedLoadMs: Math.round(cached.loadMs),
    weightGB: +gb(cached.weightBytes).toFixed(3),
    peakRssGB: +gb(cached.peakRssBytes).toFixed(3),
    peakRssLimitGB: +gb(rssLimit).toFixed(3),
    peakRssWithinLimit: cached.peakRssBytes <= rssLimit,
    buildPeakRssGB: first.built ? +gb(first.peakRssBytes).toFixed(3) : null,
    decodeTokensPerSecond: +cached.decodeTokensPerSecond.toFixed(2),
  };
  if (!args.json) console.log(shape, results[shape]);
}
const moe = results["lfm2-8b-a1b"] as { decodeTokensPerSecond: number };
const dense = results["lfm2-1.2b"] as { decodeTokensPerSecond: number };
const summary = {
  dtype: args.dtype,
  threads: args.threads ?? "default",
  results,
  ratios: { "decode_8b-a1b_vs_1.2b": +(moe.decodeTokensPerSecond / dense.decodeTokensPerSecond).toFixed(3) },
  date: new Date().toISOString(),
};
mkdirSync(join(here, "..", "results"), { recursive: true });
writeFileSync(join(here, "..", "results", `moe-${args.dtype}.json`), `${JSON.stringify(summary, null, 2)}\n`);
console.log(args.json ? JSON.stringify(summary) : `decode 8B-A1B / dense 1.2B at ${args.dtype}: ${summary.ratios["decode_8b-a1b_vs_1.2b"]}`);
