#!/usr/bin/env node
/**
 * lfmkit against llama.cpp (node-llama-cpp) on the same machine, same weights, same threads, in one
 * run: synthetic checkpoints of the LFM2-350M and LFM2-1.2B shapes, as Hugging Face folders for
 * lfmkit and as GGUF for llama.cpp, measured interleaved, each run in a fresh process.
 * Prints a table; writes results/compare.json and results/compare.svg. With --json the last line of
 * stdout is the summary, whose `ratios` are lfmkit ÷ llama.cpp.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportGguf } from "@lfmkit/text";
import { Command } from "commander";
import { z } from "zod";
import { renderChart } from "./chart.js";
import { BENCH_ROOT, DEFAULT_WORK, median, writeResults } from "./harness.js";
import { measure, type RunResult, type RunSpec } from "./run-spec.js";
import { SHAPE_VOCAB, syntheticTokenizerMetadata, writeSyntheticCheckpoint, type ShapeName } from "./synthetic.js";

const program = new Command()
  .name("bench")
  .option("--quick", "one repetition, 64 decode tokens, no long-context decode")
  .option("--reps <n>", "repetitions (medians are reported)", "3")
  .option("--threads <n>", "threads for both runtimes", "2")
  .option("--work <dir>", "where synthetic checkpoints are written", DEFAULT_WORK)
  .option("--json", "print the summary as one JSON line");
program.parse();
const args = z
  .object({ quick: z.boolean().default(false), reps: z.coerce.number().int().positive(), threads: z.coerce.number().int().positive(), work: z.string(), json: z.boolean().default(false) })
  .parse(program.opts());

const PAIRS = [
  { shape: "lfm2-350m", lfmkit: "q4", llama: "Q4_0", longContext: true },
  { shape: "lfm2-350m", lfmkit: "q8", llama: "Q8_0", longContext: false },
  { shape: "lfm2-350m", lfmkit: "f32", llama: "F16", longContext: false },
  { shape: "lfm2-1.2b", lfmkit: "q4", llama: "Q4_0", longContext: false },
  { shape: "lfm2-1.2b", lfmkit: "q8", llama: "Q8_0", longContext: false },
] as const;
const VOCAB = SHAPE_VOCAB;
const reps = args.quick ? 1 : args.reps;
const decodeTokens = args.quick ? 64 : 128;
const promptTokens = 512;
const longContext = args.quick ? 0 : 4096;

const log = (line: string) => (args.json ? process.stderr : process.stdout).write(`${line}\n`);

const folders = new Map<string, string>();
const ggufs = new Map<string, string>();
for (const pair of PAIRS) {
  if (!folders.has(pair.shape)) folders.set(pair.shape, writeSyntheticCheckpoint(pair.shape as ShapeName, args.work));
  const dir = folders.get(pair.shape)!;
  ggufs.set(`${pair.shape}/${pair.llama}`, exportGguf(dir, join(args.work, `${pair.shape}-${pair.llama}.gguf`), pair.llama, syntheticTokenizerMetadata(VOCAB)));
}

// Each pair's first lfmkit run builds its graph into an empty cache (the cold load); the measured runs
// then load it from there (graph-cached loads).
type Sample = { lfmkit: RunResult[]; llama: RunResult[]; coldLoadMs: number; cacheDir: string };
const samples = new Map<string, Sample>();
for (const pair of PAIRS) {
  const key = `${pair.shape}/${pair.lfmkit}`;
  const cacheDir = mkdtempSync(join(tmpdir(), "lfmkit-bench-"));
  const cold = measure("run-lfmkit.js", spec(pair, folders.get(pair.shape)!, pair.lfmkit, 1, 0), cacheDir);
  samples.set(key, { lfmkit: [], llama: [], coldLoadMs: cold.loadMs, cacheDir });
  log(`${key}: cold load (graph built) ${Math.round(cold.loadMs)} ms`);
}
function spec(pair: (typeof PAIRS)[number], model: string, weightFormat: string, decode: number, long: number): RunSpec {
  return { model, vocab: VOCAB, weightFormat, threads: args.threads, promptTokens, decodeTokens: decode, longContext: long };
}
for (let rep = 0; rep < reps; rep++) {
  for (const pair of PAIRS) {
    const sample = samples.get(`${pair.shape}/${pair.lfmkit}`)!;
    const long = pair.longContext ? longContext : 0;
    sample.lfmkit.push(measure("run-lfmkit.js", spec(pair, folders.get(pair.shape)!, pair.lfmkit, decodeTokens, long), sample.cacheDir));
    sample.llama.push(measure("run-llama.js", spec(pair, ggufs.get(`${pair.shape}/${pair.llama}`)!, pair.llama, decodeTokens, long), sample.cacheDir));
    log(`rep ${rep + 1}/${reps} ${pair.shape} ${pair.lfmkit}/${pair.llama} done`);
  }
}

for (const sample of samples.values()) rmSync(sample.cacheDir, { recursive: true, force: true });

const rows = PAIRS.map((pair) => {
  const s = samples.get(`${pair.shape}/${pair.lfmkit}`)!;
  const m = (runs: RunResult[], pick: (r: RunResult) => number | undefined) => {
    const values = runs.map(pick).filter((v): v is number => v !== undefined);
    return values.length ? median(values) : undefined;
  };
  const side = (runs: RunResult[]) => ({
    prefill: m(runs, (r) => r.prefillTokensPerSecond)!,
    decode: m(runs, (r) => r.decodeTokensPerSecond)!,
    decodeLong: m(runs, (r) => r.decodeLongTokensPerSecond),
    ttftMs: m(runs, (r) => r.timeToFirstTokenMs)!,
    loadMs: m(runs, (r) => r.loadMs)!,
    peakRssGB: m(runs, (r) => r.peakRssBytes)! / 1e9,
    weightGB: m(runs, (r) => r.weightBytes)! / 1e9,
  });
  const lfmkit = side(s.lfmkit);
  // The issue's memory target for lfmkit: peak RSS within 1.3 × the loaded weight bytes + 200 MB.
  const peakRssLimitGB = 1.3 * lfmkit.weightGB + 0.2;
  return {
    shape: pair.shape,
    lfmkitFormat: pair.lfmkit,
    llamaFormat: pair.llama,
    coldLoadMs: s.coldLoadMs,
    lfmkit: { ...lfmkit, peakRssLimitGB, peakRssWithinLimit: lfmkit.peakRssGB <= peakRssLimitGB },
    llama: side(s.llama),
  };
});

const size = (shape: string) => shape.replace("lfm2-", "");
const ratios: Record<string, number> = {};
for (const row of rows) {
  const tag = `${row.lfmkitFormat}_${size(row.shape)}`;
  ratios[`decode_${tag}`] = row.lfmkit.decode / row.llama.decode;
  ratios[`prefill_${tag}`] = row.lfmkit.prefill / row.llama.prefill;
  if (row.lfmkit.decodeLong !== undefined && row.llama.decodeLong !== undefined) ratios[`decode_4k_${tag}`] = row.lfmkit.decodeLong / row.llama.decodeLong;
}
/** Each runtime's own decode after the long context ÷ its decode at an empty one. */
const longContextRetention: Record<string, { lfmkit: number; llama: number }> = {};
for (const row of rows) {
  if (row.lfmkit.decodeLong === undefined || row.llama.decodeLong === undefined) continue;
  longContextRetention[`${row.lfmkitFormat}_${size(row.shape)}`] = { lfmkit: row.lfmkit.decodeLong / row.lfmkit.decode, llama: row.llama.decodeLong / row.llama.decode };
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined ? "-" : x.toFixed(digits));
log("\nshape        lfmkit/llama.cpp  prefill tok/s       decode tok/s        decode@4k tok/s    TTFT ms          load ms (cached, cold)  peak RSS GB");
for (const r of rows) {
  log(
    `${r.shape.padEnd(12)} ${`${r.lfmkitFormat}/${r.llamaFormat}`.padEnd(17)} ${`${fmt(r.lfmkit.prefill)} / ${fmt(r.llama.prefill)}`.padEnd(19)} ${`${fmt(r.lfmkit.decode)} / ${fmt(r.llama.decode)}`.padEnd(19)} ${`${fmt(r.lfmkit.decodeLong)} / ${fmt(r.llama.decodeLong)}`.padEnd(18)} ${`${fmt(r.lfmkit.ttftMs, 0)} / ${fmt(r.llama.ttftMs, 0)}`.padEnd(16)} ${`${fmt(r.lfmkit.loadMs, 0)} (${fmt(r.coldLoadMs, 0)}) / ${fmt(r.llama.loadMs, 0)}`.padEnd(23)} ${fmt(r.lfmkit.peakRssGB, 2)} / ${fmt(r.llama.peakRssGB, 2)}`,
  );
}
log("\nratios (lfmkit ÷ llama.cpp):");
for (const [name, value] of Object.entries(ratios)) log(`  ${name.padEnd(22)} ${value.toFixed(2)}`);
log(`\ndecode after ${longContext} tokens ÷ decode at 0 (lfmkit / llama.cpp):`);
for (const [tag, r] of Object.entries(longContextRetention)) log(`  ${tag.padEnd(22)} ${r.lfmkit.toFixed(2)} / ${r.llama.toFixed(2)}`);
log("\nlfmkit peak RSS against 1.3 × weight bytes + 200 MB:");
for (const r of rows) log(`  ${`${r.lfmkitFormat}_${size(r.shape)}`.padEnd(22)} ${fmt(r.lfmkit.peakRssGB, 3)} GB of ${fmt(r.lfmkit.peakRssLimitGB, 3)} GB (weights ${fmt(r.lfmkit.weightGB, 3)} GB) ${r.lfmkit.peakRssWithinLimit ? "within" : "OVER"}`);

const summary = { date: new Date().toISOString(), threads: args.threads, reps, promptTokens, decodeTokens, longContext, peer: "node-llama-cpp 3.22.1 (llama.cpp CPU)", rows, ratios, longContextRetention };
writeResults("compare", summary);
writeFileSync(join(BENCH_ROOT, "results", "compare.svg"), renderChart(ratios));
if (args.json) console.log(JSON.stringify(summary));
