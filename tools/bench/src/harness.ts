/**
 * What the benchmarks share: each runs its measurements in fresh
 * child processes (the same script with `--child <spec>`, so peak RSS is the measurement's own),
 * reports medians, prints a table with ratios against a goal, and writes results/<name>.json.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
export const BENCH_ROOT = join(here, "..");
export const DEFAULT_WORK = join(BENCH_ROOT, ".work");
export const DEFAULT_FIXTURES = "/work/shared/fixtures";

/** The spec when this process is a measurement child (`script --child '<json>'`). */
export function childSpec<T>(): T | undefined {
  const at = process.argv.indexOf("--child");
  return at >= 0 ? (JSON.parse(process.argv[at + 1]) as T) : undefined;
}

/** The child's answer: one JSON line on stdout, with its peak RSS. */
export function answer(result: object): void {
  process.stdout.write(`${JSON.stringify({ ...result, peakRssBytes: peakRssBytes() })}\n`);
}

export function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * Runs `script --child spec` in a fresh Node process and returns its last stdout line, parsed. Its
 * stderr (progress) passes through. `cacheDir` becomes the child's LFMKIT_CACHE_DIR (graph cache).
 */
export function runChild<T>(script: string, spec: object, cacheDir: string): T {
  const child = spawnSync(process.execPath, [script, "--child", JSON.stringify(spec)], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, LFMKIT_CACHE_DIR: cacheDir },
  });
  if (child.status !== 0) throw new Error(`${script} --child ${JSON.stringify(spec).slice(0, 200)} failed (exit ${child.status ?? child.signal})`);
  return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as T;
}

/** The middle value; with an even count, the mean of the two middle ones (so two runs report their mean, not one of them). */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Wall-clock milliseconds of `run`. */
export async function timed<T>(run: () => Promise<T> | T): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await run();
  return { ms: performance.now() - start, value };
}

export const fixed = (x: number | undefined, digits = 1) => (x === undefined || !Number.isFinite(x) ? "-" : x.toFixed(digits));
export const gb = (bytes: number) => +(bytes / 1e9).toFixed(3);

/** A fixed-width table: the first row is the header. */
export function printTable(rows: readonly (readonly string[])[], log: (line: string) => void = console.log): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length)));
  rows.forEach((row, i) => {
    log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "));
    if (i === 0) log(widths.map((w) => "-".repeat(w)).join("  "));
  });
}

/** "0.42 (goal ≤ 0.25: 1.68× the goal, MISSED)" style verdicts: `value / goal` with its direction. */
export function against(value: number, goal: number, direction: "max" | "min"): { value: number; goal: number; ratioToGoal: number; met: boolean } {
  const met = direction === "max" ? value <= goal : value >= goal;
  return { value: +value.toFixed(4), goal, ratioToGoal: +(value / goal).toFixed(3), met };
}

export function verdict(v: { value: number; goal: number; ratioToGoal: number; met: boolean }, direction: "max" | "min", digits = 3): string {
  return `${v.value.toFixed(digits)} (goal ${direction === "max" ? "≤" : "≥"} ${v.goal}: ${v.ratioToGoal.toFixed(2)}× the goal, ${v.met ? "met" : "MISSED"})`;
}

/** Writes results/<name>.json, with the CPU it was measured on. */
export function writeResults(name: string, result: object): string {
  const dir = join(BENCH_ROOT, "results");
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(path, `${JSON.stringify({ ...result, cpu: cpuDescription() }, null, 2)}\n`);
  return path;
}

/** Vector instruction sets that decide which int8 / float kernels ORT and llama.cpp can use. */
const KERNEL_FLAGS = ["avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8"];

/**
 * The CPU model, core count and the kernel-relevant instruction sets (from /proc/cpuinfo on Linux).
 * Results from different hosts differ by more than the changes they measure: the same VM measured
 * 2–4× faster int8 prefill on an earlier host than on an AVX2-only one.
 */
export function cpuDescription(): { model: string; cores: number; instructionSets?: string[] } {
  const all = cpus();
  const model = all[0]?.model ?? "unknown";
  if (!existsSync("/proc/cpuinfo")) return { model, cores: all.length };
  const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1].trim().split(/\s+/) ?? []);
  return { model, cores: all.length, instructionSets: KERNEL_FLAGS.filter((f) => flags.has(f)) };
}

/** A deterministic xorshift in [0, 1). */
export function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
}
