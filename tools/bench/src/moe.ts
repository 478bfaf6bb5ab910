#!/usr/bin/env node
/**
 * lfmkit's mixture of experts against llama.cpp (node-llama-cpp) on the LFM2-8B-A1B shape: one
 * synthetic checkpoint, as a Hugging Face folder for lfmkit and as GGUF (lfmkit's `exportGguf`) for
 * llama.cpp, at each weight format (lfmkit q4 / llama.cpp Q4_0, q8 / Q8_0), the same threads on both
 * sides. Per format, a first lfmkit load builds the graph into an empty cache; then, per repetition,
 * one lfmkit and one llama.cpp run, each in a fresh process (`run-lfmkit` / `run-llama`, as `pnpm bench`):
 * load time (graph-cached), prefill tok/s, decode tok/s, decode after a long context, peak RSS.
 * Prints a table, the lfmkit ÷ llama.cpp ratios and the issue's acceptance lines (met / MISSED);
 * writes results/moe.json. With --json the last line of stdout is the summary.
 *
 * Decode input: random weights decode greedily into one token over and over, which the router sends
 * to the same experts at every step; text does not. By default both runtimes are therefore fed a
 * fixed continuation of the prompt at each decode step (`decodeInput: "fixed"`), so the experts
 * chosen change from step to step; `--decode-input greedy` feeds each step the previous argmax.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { exportGguf } from "@lfmkit/text";
import { Command, Option } from "commander";
import { z } from "zod";
import { DEFAULT_WORK, against, fixed, gb, median, printTable, verdict, writeResults } from "./harness.js";
import { measure, type RunResult, type RunSpec } from "./run-spec.js";
import { SHAPES, SHAPE_VOCAB, syntheticTokenizerMetadata, writeSyntheticCheckpoint, type ShapeName } from "./synthetic.js";

/** Each lfmkit weight format and the llama.cpp type it is measured against. */
const PEER_TYPE = { q4: "Q4_0", q8: "Q8_0", f32: "F16" } as const satisfies Record<string, Parameters<typeof exportGguf>[2]>;
type Format = keyof typeof PEER_TYPE;

/** The issue's acceptance lines. */
const GOALS = {
  cachedLoadS: 10,
  firstLoadS: 60,
  /** lfmkit ÷ llama.cpp, each of prefill, decode and decode after the long context. */
  ratio: 1.0,
  /** The stretch goal for prefill and decode. */
  ratioStretch: 1.5,
  /** lfmkit's peak RSS over the whole run ≤ this × its loaded weight bytes + `peakRssOverheadBytes`. */
  peakRssPerWeightByte: 1.15,
  peakRssOverheadBytes: 300e6,
};

const program = new Command()
  .name("bench-moe")
  .addOption(new Option("--shape <name>", "synthetic checkpoint shape (lfm2-moe-small to try the command out)").choices(Object.keys(SHAPES)).default("lfm2-8b-a1b"))
  .option("--formats <list>", `lfmkit weight formats, each against its llama.cpp type (${Object.entries(PEER_TYPE).map(([k, v]) => `${k}/${v}`).join(", ")})`, "q4,q8")
  .option("--reps <n>", "repetitions, lfmkit and llama.cpp alternating (medians are reported)", "2")
  .option("--threads <n>", "threads for both runtimes", "2")
  .option("--prompt-tokens <n>", "prompt length for prefill", "512")
  .option("--decode-tokens <n>", "decode steps measured", "128")
  .option("--long-context <n>", "decode again after a prompt this long (0: skip)", "4096")
  .addOption(new Option("--decode-input <kind>", "what each decode step is fed: a fixed continuation of the prompt, or the previous argmax").choices(["fixed", "greedy"]).default("fixed"))
  .option("--work <dir>", "where the synthetic checkpoint, its GGUFs and the graph caches go", DEFAULT_WORK)
  .option("--json", "print the summary as one JSON line");
program.parse();
const args = z
  .object({
    shape: z.enum(Object.keys(SHAPES) as [ShapeName, ...ShapeName[]]),
    formats: z.string().transform((list, ctx) => {
      const formats = list.split(",").map((f) => f.trim());
      for (const f of formats) if (!(f in PEER_TYPE)) ctx.addIssue({ code: "custom", message: `unknown format ${f}` });
      return [...new Set(formats)] as Format[];
    }),
    reps: z.coerce.number().int().positive(),
    threads: z.coerce.number().int().positive(),
    promptTokens: z.coerce.number().int().positive(),
    decodeTokens: z.coerce.number().int().positive(),
    longContext: z.coerce.number().int().nonnegative(),
    decodeInput: z.enum(["fixed", "greedy"]),
    work: z.string(),
    json: z.boolean().default(false),
  })
  .parse(program.opts());

const log = (line: string) => (args.json ? process.stderr : process.stdout).write(`${line}\n`);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 60e3).toFixed(1)} min`;

// ── The checkpoint and its GGUFs (written once into --work, kept for later runs) ────────────────────
if (!existsSync(join(args.work, args.shape, "config.json"))) log(`writing the synthetic ${args.shape} checkpoint into ${args.work} (bf16; 16.7 GB for lfm2-8b-a1b)`);
const folder = writeSyntheticCheckpoint(args.shape, args.work);
const ggufs = new Map<Format, string>();
for (const format of args.formats) {
  const path = join(args.work, `${args.shape}-${PEER_TYPE[format]}.gguf`);
  if (!existsSync(path)) log(`exporting the ${PEER_TYPE[format]} GGUF ${path}`);
  // Skipped when the file exists; written under another name and renamed when finished.
  ggufs.set(format, exportGguf(folder, path, PEER_TYPE[format], syntheticTokenizerMetadata(SHAPE_VOCAB)));
}

// ── Measurements ──────────────────────────────────────────────────────────────────────────────────
const spec = (model: string, weightFormat: string): RunSpec => ({
  model,
  vocab: SHAPE_VOCAB,
  weightFormat,
  threads: args.threads,
  promptTokens: args.promptTokens,
  decodeTokens: args.decodeTokens,
  longContext: args.longContext,
  decodeInput: args.decodeInput,
});

type Sample = { first: RunResult; lfmkit: RunResult[]; llama: RunResult[]; cacheDir: string };
// Graph caches are temporary folders under --work (the 8B-A1B's are 5–9 GB each), removed at the end.
const samples = new Map<Format, Sample>();
const cacheDirs: string[] = [];
try {
  // First load: the graph built into an empty cache, short prompt (only the load is reported from it).
  for (const format of args.formats) {
    const cacheDir = mkdtempSync(join(args.work, `moe-cache-${format}-`));
    cacheDirs.push(cacheDir);
    const first = measure("run-lfmkit.js", { ...spec(folder, format), promptTokens: 16, decodeTokens: 1, prefillRuns: 1, longContext: 0 }, cacheDir);
    if (first.graphCached) throw new Error(`the first ${format} load found a cached graph in the empty cache ${cacheDir}`);
    samples.set(format, { first, lfmkit: [], llama: [], cacheDir });
    log(`${format}: first load (graph built) ${(first.loadMs / 1e3).toFixed(1)} s [${elapsed()}]`);
  }
  // Repetitions: lfmkit then llama.cpp per format, each run a fresh process; lfmkit loads the cached graph.
  for (let rep = 1; rep <= args.reps; rep++) {
    for (const format of args.formats) {
      const sample = samples.get(format)!;
      sample.lfmkit.push(measure("run-lfmkit.js", spec(folder, format), sample.cacheDir));
      sample.llama.push(measure("run-llama.js", spec(ggufs.get(format)!, PEER_TYPE[format]), sample.cacheDir));
      log(`rep ${rep}/${args.reps} ${format}/${PEER_TYPE[format]} done [${elapsed()}]`);
    }
  }
} finally {
  for (const dir of cacheDirs) rmSync(dir, { recursive: true, force: true });
}

// ── Medians, ratios, acceptance ─────────────────────────────────────────────────────────────────────
function side(runs: RunResult[]) {
  const m = (pick: (r: RunResult) => number | undefined) => {
    const values = runs.map(pick).filter((v): v is number => v !== undefined);
    return values.length ? median(values) : undefined;
  };
  return {
    loadMs: m((r) => r.loadMs)!,
    prefill: m((r) => r.prefillTokensPerSecond)!,
    decode: m((r) => r.decodeTokensPerSecond)!,
    decodeLong: m((r) => r.decodeLongTokensPerSecond),
    ttftMs: m((r) => r.timeToFirstTokenMs)!,
    loadPeakRssGB: gb(m((r) => r.loadPeakRssBytes)!),
    peakRssGB: gb(m((r) => r.peakRssBytes)!),
    weightGB: gb(m((r) => r.weightBytes)!),
  };
}

const rows = args.formats.map((format) => {
  const s = samples.get(format)!;
  const lfmkit = side(s.lfmkit);
  const llama = side(s.llama);
  const peakRssLimitGB = gb(GOALS.peakRssPerWeightByte * lfmkit.weightGB * 1e9 + GOALS.peakRssOverheadBytes);
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? undefined : +(a / b).toFixed(3));
  const ratios = {
    prefill: ratio(lfmkit.prefill, llama.prefill)!,
    decode: ratio(lfmkit.decode, llama.decode)!,
    decodeLong: ratio(lfmkit.decodeLong, llama.decodeLong),
    /** Informational: lfmkit's graph-cached load ÷ llama.cpp's load, and the peak RSS of each. */
    load: ratio(lfmkit.loadMs, llama.loadMs)!,
    peakRss: ratio(lfmkit.peakRssGB, llama.peakRssGB)!,
  };
  const acceptance = {
    cachedLoadS: against(lfmkit.loadMs / 1e3, GOALS.cachedLoadS, "max"),
    firstLoadS: against(s.first.loadMs / 1e3, GOALS.firstLoadS, "max"),
    prefillRatio: against(ratios.prefill, GOALS.ratio, "min"),
    decodeRatio: against(ratios.decode, GOALS.ratio, "min"),
    ...(ratios.decodeLong === undefined ? {} : { decodeLongRatio: against(ratios.decodeLong, GOALS.ratio, "min") }),
    peakRssGB: against(lfmkit.peakRssGB, peakRssLimitGB, "max"),
  };
  const stretch = { prefillRatio: against(ratios.prefill, GOALS.ratioStretch, "min"), decodeRatio: against(ratios.decode, GOALS.ratioStretch, "min") };
  return {
    format,
    llamaType: PEER_TYPE[format],
    firstLoad: { loadMs: s.first.loadMs, loadPeakRssGB: gb(s.first.loadPeakRssBytes) },
    lfmkit: { ...lfmkit, peakRssLimitGB },
    llama,
    ratios,
    acceptance,
    stretch,
    /** Every run, in order (this VM's noise is large: read the spread, not only the medians). */
    runs: { lfmkit: s.lfmkit, llama: s.llama },
  };
});

// ── Report ──────────────────────────────────────────────────────────────────────────────────────────
const pair = (a: number | undefined, b: number | undefined, digits = 1) => `${fixed(a, digits)} / ${fixed(b, digits)}`;
log(`\n${args.shape}, ${args.threads} threads, ${args.reps} rep(s), decode input ${args.decodeInput}; each cell lfmkit / llama.cpp (medians)`);
printTable(
  [
    ["format", "load s (first)", "prefill tok/s", "decode tok/s", `decode@${args.longContext} tok/s`, "TTFT ms", "peak RSS GB (after load)", "weights GB"],
    ...rows.map((r) => [
      `${r.format}/${r.llamaType}`,
      `${fixed(r.lfmkit.loadMs / 1e3)} (${fixed(r.firstLoad.loadMs / 1e3)}) / ${fixed(r.llama.loadMs / 1e3)}`,
      pair(r.lfmkit.prefill, r.llama.prefill),
      pair(r.lfmkit.decode, r.llama.decode, 2),
      pair(r.lfmkit.decodeLong, r.llama.decodeLong, 2),
      pair(r.lfmkit.ttftMs, r.llama.ttftMs, 0),
      `${fixed(r.lfmkit.peakRssGB, 2)} (${fixed(r.lfmkit.loadPeakRssGB, 2)}) / ${fixed(r.llama.peakRssGB, 2)} (${fixed(r.llama.loadPeakRssGB, 2)})`,
      pair(r.lfmkit.weightGB, r.llama.weightGB, 2),
    ]),
  ],
  log,
);
log("\nratios (lfmkit ÷ llama.cpp):");
for (const r of rows) log(`  ${r.format}/${r.llamaType}: ${Object.entries(r.ratios).map(([k, v]) => `${k} ${fixed(v, 2)}`).join(", ")}`);
log("\nagainst the acceptance lines:");
for (const r of rows) {
  const a = r.acceptance;
  const lines: [string, string][] = [
    ["cached load s", verdict(a.cachedLoadS, "max", 1)],
    ["first load s (graph built)", verdict(a.firstLoadS, "max", 1)],
    ["prefill ÷ llama.cpp", `${verdict(a.prefillRatio, "min", 2)}; stretch ${verdict(r.stretch.prefillRatio, "min", 2)}`],
    ["decode ÷ llama.cpp", `${verdict(a.decodeRatio, "min", 2)}; stretch ${verdict(r.stretch.decodeRatio, "min", 2)}`],
    ...(a.decodeLongRatio ? [[`decode@${args.longContext} ÷ llama.cpp`, verdict(a.decodeLongRatio, "min", 2)] as [string, string]] : []),
    ["peak RSS GB", `${verdict(a.peakRssGB, "max", 3)} (${GOALS.peakRssPerWeightByte} × ${fixed(r.lfmkit.weightGB, 3)} GB weights + ${GOALS.peakRssOverheadBytes / 1e6} MB)`],
  ];
  for (const [what, text] of lines) log(`  ${r.format} ${what.padEnd(27)} ${text}`);
}

const summary = {
  date: new Date().toISOString(),
  shape: args.shape,
  threads: args.threads,
  reps: args.reps,
  promptTokens: args.promptTokens,
  decodeTokens: args.decodeTokens,
  longContext: args.longContext,
  decodeInput: args.decodeInput,
  decodeInputMeaning:
    args.decodeInput === "fixed"
      ? "each decode step is fed the prompt's continuation, so the experts chosen change from step to step (random weights decoded greedily repeat one token, which routes to the same experts at every step)"
      : "each decode step is fed the previous argmax: random weights repeat one token, so the same experts run at every step",
  peer: "node-llama-cpp 3.22.1 (llama.cpp CPU), GGUF written by lfmkit's exportGguf",
  goals: GOALS,
  rows,
  minutes: +((performance.now() - started) / 60e3).toFixed(1),
};
log(`\nwrote ${writeResults("moe", summary)} [${elapsed()}]`);
if (args.json) console.log(JSON.stringify(summary));
