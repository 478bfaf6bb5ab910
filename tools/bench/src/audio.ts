#!/usr/bin/env node
/**
 * `pnpm bench:audio` — LFM2-Audio-1.5B's audio-in encoder (log-mel + FastConformer + adapter, random
 * weights of the published shape) and its codec, Mimi (kyutai/mimi's published shape, 8 codebooks),
 * at f32 and q8: real-time factor (compute seconds per second of audio) of
 *   - log-mel + conformer on a 10-s clip (16 kHz, as LFM2AudioModel.encodeAudio runs it),
 *   - Mimi encode of a 10-s clip (24 kHz),
 *   - Mimi streaming decode of that clip's 125 frames, one frame per push and four frames per push
 *     (each push's latency reported too; a frame is 80 ms of audio),
 * and the peak RSS of each run. The limit compared with is real time (RTF 1); goals: streaming decode
 * RTF ≤ 0.25, encoder RTF ≤ 0.05. Mimi's q8 quantizes its transformer linears only (its convolutions
 * and codebooks stay float32, as MimiCodec stores them).
 *
 * Each (part, format) runs in a fresh child process: load, one untimed warm-up, `--reps` timed runs;
 * medians. Writes results/audio.json.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConformerEncoder, MimiCodec, logMel, readLogMelSettings, type MimiCodes } from "@lfmkit/audio";
import { weightFormatSchema, type WeightFormat } from "@lfmkit/core";
import { Command } from "commander";
import { z } from "zod";
import { DEFAULT_FIXTURES, DEFAULT_WORK, against, answer, childSpec, fixed, gb, median, printTable, runChild, verdict, writeResults } from "./harness.js";
import { speechLikeAudio } from "./media.js";
import { writeAudio15b, writeMimi } from "./published.js";

const SCRIPT = fileURLToPath(import.meta.url);
const GOALS = { streamingDecodeRtf: 0.25, encoderRtf: 0.05 };
const CODEBOOKS = 8;

interface ChildSpecBase {
  model: string;
  weightFormat: WeightFormat;
  threads: number;
  reps: number;
  seconds: number;
}
type Spec = ChildSpecBase & { kind: "conformer" | "mimi-encode" | "mimi-decode" };

interface Run {
  /** Compute seconds of the measured part. */
  seconds: number;
  /** Sub-steps, ms. */
  parts: Record<string, number>;
  /** Per-push latencies (streaming decode), ms. */
  pushes?: number[];
}

interface ChildResult {
  loadMs: number;
  /** First call (builds or loads the lazily opened Mimi graph, first-call allocations). */
  warmUpMs: number;
  /** Whether the load built the graph (conformer; Mimi builds its graphs lazily, in the warm-up). */
  graphBuilt?: boolean;
  runs: Record<string, Run[]>;
  info: Record<string, number>;
  peakRssBytes: number;
}

// ------------------------------------------------------------------------------------------ children

async function conformerChild(spec: Spec): Promise<void> {
  const loadStart = performance.now();
  const encoder = await ConformerEncoder.load(spec.model, { adapter: true, weightFormat: spec.weightFormat, threads: spec.threads });
  const loadMs = performance.now() - loadStart;
  const settings = readLogMelSettings(spec.model);
  const clip = speechLikeAudio(spec.seconds, settings.sampleRate);
  const once = async (): Promise<Run & { frames: number; encodedFrames: number }> => {
    const t0 = performance.now();
    const mel = logMel(clip, settings);
    const t1 = performance.now();
    const encoded = await encoder.encode(mel.features, mel.frames);
    const t2 = performance.now();
    return { seconds: (t2 - t0) / 1000, parts: { logMelMs: t1 - t0, conformerMs: t2 - t1 }, frames: mel.frames, encodedFrames: encoded.frames };
  };
  const warm = performance.now();
  const first = await once();
  const warmUpMs = performance.now() - warm;
  const runs: Run[] = [];
  for (let rep = 0; rep < spec.reps; rep++) runs.push(await once());
  const graphBuilt = encoder.graph.built;
  await encoder.dispose();
  answer({ loadMs, warmUpMs, graphBuilt, runs: { encoder: runs }, info: { melFrames: first.frames, encodedFrames: first.encodedFrames, width: encoder.width } });
}

async function mimiChild(spec: Spec): Promise<void> {
  const loadStart = performance.now();
  const codec = await MimiCodec.load(spec.model, { codebooks: CODEBOOKS, weightFormat: spec.weightFormat, threads: spec.threads });
  const loadMs = performance.now() - loadStart;
  const clip = speechLikeAudio(spec.seconds, codec.sampleRate);
  const runs: Record<string, Run[]> = {};
  let warmUpMs = 0;
  if (spec.kind === "mimi-encode") {
    const warm = performance.now();
    await codec.encode(clip.subarray(0, codec.sampleRate));
    warmUpMs = performance.now() - warm;
    runs.encode = [];
    for (let rep = 0; rep < spec.reps; rep++) {
      const start = performance.now();
      await codec.encode(clip);
      runs.encode.push({ seconds: (performance.now() - start) / 1000, parts: {} });
    }
  } else {
    const codes = await codec.encode(clip); // the codes to decode: the clip's own
    const warm = performance.now();
    const warmStream = codec.decoderStream();
    for (const size of [1, 1, 4]) await warmStream.push(slice(codes, 0, size));
    warmUpMs = performance.now() - warm;
    for (const framesPerPush of [1, 4]) {
      const key = `streamingDecode${framesPerPush}`;
      runs[key] = [];
      for (let rep = 0; rep < spec.reps; rep++) {
        const stream = codec.decoderStream();
        const pushes: number[] = [];
        let samples = 0;
        for (let first = 0; first < codes.frames; first += framesPerPush) {
          const start = performance.now();
          samples += (await stream.push(slice(codes, first, Math.min(codes.frames, first + framesPerPush)))).length;
          pushes.push(performance.now() - start);
        }
        if (samples !== codes.frames * codec.samplesPerFrame) throw new Error(`decoded ${samples} samples for ${codes.frames} frames`);
        runs[key].push({ seconds: pushes.reduce((a, b) => a + b, 0) / 1000, parts: {}, pushes });
      }
    }
  }
  await codec.dispose();
  answer({ loadMs, warmUpMs, runs, info: { frames: Math.ceil(clip.length / codec.samplesPerFrame), samplesPerFrame: codec.samplesPerFrame } });
}

function slice(codes: MimiCodes, from: number, to: number): MimiCodes {
  const data = new Int32Array(codes.codebooks * (to - from));
  for (let c = 0; c < codes.codebooks; c++) data.set(codes.data.subarray(c * codes.frames + from, c * codes.frames + to), c * (to - from));
  return { codebooks: codes.codebooks, frames: to - from, data };
}

// ------------------------------------------------------------------------------------------ parent

async function main(): Promise<void> {
  const program = new Command()
    .name("bench:audio")
    .option("--reps <n>", "timed repetitions (medians reported)", "3")
    .option("--threads <n>", "ONNX Runtime intra-op threads", "2")
    .option("--formats <list>", "weight formats, comma-separated", "f32,q8")
    .option("--seconds <n>", "clip length", "10")
    .option("--work <dir>", "synthetic checkpoints", DEFAULT_WORK)
    .option("--fixtures <dir>", "tiny fixtures whose layouts the checkpoints follow", DEFAULT_FIXTURES)
    .option("--cache-dir <dir>", "graph cache (default <work>/cache)");
  program.parse();
  const args = z
    .object({
      reps: z.coerce.number().int().positive(),
      threads: z.coerce.number().int().positive(),
      formats: z.string().transform((s) => s.split(",").map((f) => weightFormatSchema.parse(f.trim()))),
      seconds: z.coerce.number().positive(),
      work: z.string(),
      fixtures: z.string(),
      cacheDir: z.string().optional(),
    })
    .parse(program.opts());
  const cacheDir = args.cacheDir ?? join(args.work, "cache");
  const started = performance.now();
  const audioModel = writeAudio15b(args.work, args.fixtures);
  const mimi = writeMimi(args.work, args.fixtures);

  const results: { part: string; weightFormat: string; result: ChildResult }[] = [];
  for (const weightFormat of args.formats) {
    for (const kind of ["conformer", "mimi-encode", "mimi-decode"] as const) {
      process.stderr.write(`${kind} ${weightFormat}\n`);
      const spec: Spec = { kind, model: kind === "conformer" ? audioModel : mimi, weightFormat, threads: args.threads, reps: args.reps, seconds: args.seconds };
      results.push({ part: kind, weightFormat, result: runChild<ChildResult>(SCRIPT, spec, cacheDir) });
    }
  }

  const rows = results.flatMap(({ part, weightFormat, result }) =>
    Object.entries(result.runs).map(([measure, runs]) => {
      const seconds = median(runs.map((r) => r.seconds));
      const rtf = seconds / args.seconds;
      const pushes = runs.flatMap((r) => r.pushes ?? []);
      const goal = measure.startsWith("streamingDecode") ? against(rtf, GOALS.streamingDecodeRtf, "max") : measure === "encoder" ? against(rtf, GOALS.encoderRtf, "max") : undefined;
      const parts = Object.keys(runs[0].parts);
      return {
        measure: measure === "encoder" ? "log-mel + conformer + adapter" : measure === "encode" ? "mimi encode" : `mimi streaming decode, ${measure.slice(-1)} frame(s) per push`,
        key: measure,
        weightFormat,
        rtf: +rtf.toFixed(4),
        computeSeconds: +seconds.toFixed(3),
        parts: Object.fromEntries(parts.map((p) => [p, +median(runs.map((r) => r.parts[p])).toFixed(1)])),
        pushLatencyMs: pushes.length ? { median: +median(pushes).toFixed(1), p90: +[...pushes].sort((a, b) => a - b)[Math.floor(pushes.length * 0.9)].toFixed(1), max: +Math.max(...pushes).toFixed(1) } : undefined,
        goal,
        runs: runs.map((r) => +r.seconds.toFixed(3)),
        loadMs: Math.round(result.loadMs),
        warmUpMs: Math.round(result.warmUpMs),
        peakRssGB: gb(result.peakRssBytes),
        process: part,
        info: result.info,
      };
    }),
  );

  const summary = {
    date: new Date().toISOString(),
    models: { conformer: "LFM2-Audio-1.5B encoder + adapter shape, random weights (published.ts)", mimi: `kyutai/mimi shape, random weights, ${CODEBOOKS} codebooks` },
    threads: args.threads,
    reps: args.reps,
    clipSeconds: args.seconds,
    goals: GOALS,
    limit: "real time: RTF = compute seconds ÷ audio seconds; 1 is the real-time limit",
    method: "each (part, format) in a fresh process: load, one untimed warm-up, --reps timed runs; medians. Mimi streaming decode: the clip's own codes, a fresh decoderStream per run; RTF = sum of push times ÷ audio seconds",
    rows,
    wallSeconds: Math.round((performance.now() - started) / 1000),
  };
  writeResults("audio", summary);

  console.log(`\nLFM2-Audio-1.5B conformer and Mimi (random weights, published shapes), ${args.threads} threads, ${args.seconds}-s clip, medians of ${args.reps}`);
  printTable([
    ["format  measure", "RTF", "compute s", "push ms (med/p90)", "goal", "÷ goal", "peak RSS GB", "load ms"],
    ...rows.map((r) => [
      `${r.weightFormat.padEnd(6)}  ${r.measure}`,
      fixed(r.rtf, 3),
      fixed(r.computeSeconds, 2),
      r.pushLatencyMs ? `${fixed(r.pushLatencyMs.median)} / ${fixed(r.pushLatencyMs.p90)}` : "-",
      r.goal ? `≤ ${r.goal.goal}` : "-",
      r.goal ? `${fixed(r.goal.ratioToGoal, 2)}${r.goal.met ? "" : " MISSED"}` : "-",
      fixed(r.peakRssGB, 2),
      String(r.loadMs),
    ]),
  ]);
  console.log("\nagainst the goals:");
  for (const r of rows) if (r.goal) console.log(`  ${r.weightFormat} ${r.measure}: RTF ${verdict(r.goal, "max")}`);
  console.log(`\nwrote results/audio.json (${summary.wallSeconds} s)`);
}

const spec = childSpec<Spec>();
if (spec?.kind === "conformer") await conformerChild(spec);
else if (spec) await mimiChild(spec);
else await main();
