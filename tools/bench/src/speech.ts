#!/usr/bin/env node
/**
 * `pnpm bench:speech` — speech out of LFM2-Audio-1.5B (random weights of the published shape:
 * backbone, conformer, depthformer, and a kyutai/mimi-shaped codec) at q8 and q4, through the chat
 * path (`AudioChat.chat(messages, { speech: true, mode: "interleaved" })`): a system turn asking for
 * interleaved text and audio, a 10-second spoken question, text greedy, audio sampled with the
 * defaults (temperature 1, top-k 4) from a fixed seed.
 *
 * Measured: time to the first audio chunk (samples out of Mimi), and the generation's real-time factor
 * (compute seconds per second of speech produced: the generation after the prompt's prefill ÷ the
 * speech's duration). Random weights may end the answer before any audio frame (`<|im_end|>` as the
 * text), so the per-step costs are also measured directly on the same loaded parts — backbone step,
 * depthformer frame (8 codebook steps), Mimi decode of one frame — and the RTF computed from them at
 * 12.5 frames per second of speech, with where the time goes. The limit compared with is real time
 * (RTF 1); goal: RTF < 1 at q4. The codec runs float32 whatever the weight format (AudioChat loads
 * Mimi without one).
 *
 * Each format runs in a fresh child process: load, one short untimed warm-up answer, `--reps` answers,
 * then the per-step measurements; medians. Writes results/speech.json.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { codesFromFrames } from "@lfmkit/audio";
import { Sampler, type WeightFormat, weightFormatSchema } from "@lfmkit/core";
import { AudioChat, type Message } from "@lfmkit/pipeline";
import { Command } from "commander";
import { z } from "zod";
import { DEFAULT_FIXTURES, DEFAULT_WORK, against, answer, childSpec, fixed, gb, median, printTable, random, runChild, writeResults } from "./harness.js";
import { speechLikeAudio } from "./media.js";
import { writeAudio15b, writeMimi } from "./published.js";

const SCRIPT = fileURLToPath(import.meta.url);
const SYSTEM = "Respond with interleaved text and audio.";
const FRAME_SECONDS = 1 / 12.5;
const GOAL_RTF = 1;

interface Spec {
  model: string;
  codec: string;
  weightFormat: WeightFormat;
  threads: number;
  reps: number;
  questionSeconds: number;
  steps: number;
  seed: number;
  stepSamples: number;
}

interface AnswerRun {
  timeToFirstAudioMs: number | undefined;
  timeToFirstFrameMs: number | undefined;
  timeToFirstTextMs: number | undefined;
  totalMs: number;
  prefillMs: number;
  generationMs: number;
  textSteps: number;
  audioFrames: number;
  endOfAudioFrames: number;
  speechSeconds: number;
  promptTokens: number;
  finishReason: string;
}

interface StepCosts {
  encodeAudioMs: number;
  prefillMs: number;
  prefillPositions: number;
  backboneStepMs: number;
  depthformerFrameMs: number;
  mimiFrameMs: number;
  samples: { backbone: number[]; depthformer: number[]; mimi: number[] };
}

interface ChildResult {
  loadMs: number;
  graphBuilt: boolean;
  interleaved: { text: number; audio: number };
  answers: AnswerRun[];
  steps: StepCosts;
  firstFrames: number[][];
  peakRssBytes: number;
}

// ------------------------------------------------------------------------------------------ child

async function child(spec: Spec): Promise<void> {
  const loadStart = performance.now();
  const chat = await AudioChat.load(spec.model, { codec: spec.codec, weightFormat: spec.weightFormat, threads: spec.threads });
  const loadMs = performance.now() - loadStart;
  const model = chat.model;
  const codec = chat.codec!;
  const question = { samples: speechLikeAudio(spec.questionSeconds, 16000, 11), sampleRate: 16000 };
  const messages = (audio: { samples: Float32Array; sampleRate: number }): Message[] => [
    { role: "system", content: SYSTEM },
    { role: "user", content: [{ type: "audio", audio }] },
  ];

  const ask = async (audio: { samples: Float32Array; sampleRate: number }, steps: number) => {
    const start = performance.now();
    const run: Partial<AnswerRun> & { frames: number[][] } = { frames: [], textSteps: 0, audioFrames: 0, endOfAudioFrames: 0, speechSeconds: 0 };
    for await (const event of chat.chat(messages(audio), { speech: true, mode: "interleaved", seed: spec.seed, maxTokens: steps })) {
      const at = performance.now() - start;
      if (event.type === "text") run.timeToFirstTextMs ??= at;
      else if (event.type === "audio_frame") {
        run.timeToFirstFrameMs ??= at;
        // Frames holding end of audio are not decoded (the chat path skips them too).
        if (!event.codes.includes(model.depthformer.endOfAudio)) run.frames.push(event.codes);
      } else if (event.type === "audio") {
        run.timeToFirstAudioMs ??= at;
        run.speechSeconds! += event.samples.length / event.sampleRate;
      } else if (event.type === "done") {
        run.totalMs = at;
        run.prefillMs = event.timings.prefillMs;
        run.generationMs = event.timings.decodeMs;
        run.promptTokens = event.usage.promptTokens;
        run.finishReason = event.finishReason;
        for (const step of event.steps ?? []) {
          if ("text" in step) run.textSteps!++;
          else if (step.audio.includes(model.depthformer.endOfAudio)) run.endOfAudioFrames!++;
          else run.audioFrames!++;
        }
      }
    }
    return run as AnswerRun & { frames: number[][] };
  };

  await ask({ samples: question.samples.subarray(0, 16000 * 2), sampleRate: 16000 }, 8); // warm-up: every graph once, not timed
  const answers: AnswerRun[] = [];
  let frames: number[][] = [];
  for (let rep = 0; rep < spec.reps; rep++) {
    const { frames: got, ...run } = await ask(question, spec.steps);
    answers.push(run);
    if (got.length > frames.length) frames = got;
    process.stderr.write(
      `  speech ${spec.weightFormat} rep ${rep + 1}/${spec.reps}: ${run.textSteps} text steps, ${run.audioFrames} frames, first audio ${fixed(run.timeToFirstAudioMs, 0)} ms, total ${fixed(run.totalMs, 0)} ms\n`,
    );
  }

  // Per-step costs on the same parts, outside the loop.
  const { backbone, depthformer } = model;
  const encodeStart = performance.now();
  const audioRows = await model.encodeAudio(question);
  const encodeAudioMs = performance.now() - encodeStart;
  const textRows = backbone.embed(model.tokenizer.encode(`<|startoftext|><|im_start|>system\n${SYSTEM}<|im_end|>\n<|im_start|>user\n`));
  const prompt = new Float32Array(textRows.length + audioRows.length);
  prompt.set(textRows);
  prompt.set(audioRows, textRows.length);
  const state = backbone.newState();
  const prefillStart = performance.now();
  let { finalHidden } = await backbone.forwardEmbeddings(state, prompt);
  const prefillMs = performance.now() - prefillStart;
  const next = random(spec.seed);
  const frameAt = (i: number) => frames[i % Math.max(frames.length, 1)] ?? Array.from({ length: model.config.codebooks }, () => Math.floor(next() * (depthformer.endOfAudio - 1)));
  const sampler = new Sampler({ temperature: 1, topK: 4, seed: spec.seed });
  const noPenalty = new Set<number>();
  const depthState = depthformer.newState();
  const stream = codec.decoderStream();
  const samples = { backbone: [] as number[], depthformer: [] as number[], mimi: [] as number[] };
  for (let i = 0; i < spec.stepSamples; i++) {
    let t = performance.now();
    await depthformer.sampleFrame(depthState, finalHidden!, (logits) => sampler.sample(logits, noPenalty));
    samples.depthformer.push(performance.now() - t);
    t = performance.now();
    ({ finalHidden } = await backbone.forwardEmbeddings(state, depthformer.frameEmbedding(frameAt(i))));
    samples.backbone.push(performance.now() - t);
    t = performance.now();
    await stream.push(codesFromFrames([frameAt(i)]));
    samples.mimi.push(performance.now() - t);
  }
  const steps: StepCosts = {
    encodeAudioMs,
    prefillMs,
    prefillPositions: prompt.length / backbone.config.hiddenSize,
    backboneStepMs: median(samples.backbone),
    depthformerFrameMs: median(samples.depthformer),
    mimiFrameMs: median(samples.mimi),
    samples,
  };
  const graphBuilt = backbone.graph.built || model.encoder.graph.built;
  const interleaved = { text: model.config.interleavedText, audio: model.config.interleavedAudio };
  await chat.dispose();
  answer({ loadMs, graphBuilt, interleaved, answers, steps, firstFrames: frames.slice(0, 3) });
}

// ------------------------------------------------------------------------------------------ parent

async function main(): Promise<void> {
  const program = new Command()
    .name("bench:speech")
    .option("--reps <n>", "answers per format (medians reported)", "3")
    .option("--threads <n>", "ONNX Runtime intra-op threads", "2")
    .option("--formats <list>", "weight formats, comma-separated", "q8,q4")
    .option("--question-seconds <n>", "length of the spoken question", "10")
    .option("--steps <n>", "generation steps per answer (text tokens and audio frames)", "36")
    .option("--seed <n>", "sampling seed", "42")
    .option("--step-samples <n>", "repetitions of each per-step measurement", "16")
    .option("--work <dir>", "synthetic checkpoints", DEFAULT_WORK)
    .option("--fixtures <dir>", "tiny fixtures whose layouts the checkpoints follow", DEFAULT_FIXTURES)
    .option("--cache-dir <dir>", "graph cache (default <work>/cache)");
  program.parse();
  const args = z
    .object({
      reps: z.coerce.number().int().positive(),
      threads: z.coerce.number().int().positive(),
      formats: z.string().transform((s) => s.split(",").map((f) => weightFormatSchema.parse(f.trim()))),
      questionSeconds: z.coerce.number().positive(),
      steps: z.coerce.number().int().positive(),
      seed: z.coerce.number().int(),
      stepSamples: z.coerce.number().int().positive(),
      work: z.string(),
      fixtures: z.string(),
      cacheDir: z.string().optional(),
    })
    .parse(program.opts());
  const cacheDir = args.cacheDir ?? join(args.work, "cache");
  const started = performance.now();
  const model = writeAudio15b(args.work, args.fixtures);
  const codec = writeMimi(args.work, args.fixtures);

  const rows = args.formats.map((weightFormat) => {
    process.stderr.write(`speech ${weightFormat}\n`);
    const spec: Spec = { model, codec, weightFormat, threads: args.threads, reps: args.reps, questionSeconds: args.questionSeconds, steps: args.steps, seed: args.seed, stepSamples: args.stepSamples };
    const r = runChild<ChildResult>(SCRIPT, spec, cacheDir);
    const withAudio = r.answers.filter((a) => a.audioFrames > 0);
    const m = (values: (number | undefined)[]) => {
      const present = values.filter((v): v is number => v !== undefined);
      return present.length ? median(present) : undefined;
    };
    const s = r.steps;
    const { text, audio } = r.interleaved;
    // Per frame of speech: its backbone step, its depthformer frame, its Mimi decode; interleaved adds
    // `text` backbone steps (text tokens) per `audio` frames while the text lasts.
    const audioOnlyMs = s.backboneStepMs + s.depthformerFrameMs + s.mimiFrameMs;
    const interleavedMs = audioOnlyMs + (text / audio) * s.backboneStepMs;
    const computed = {
      audioOnly: audioOnlyMs / 1000 / FRAME_SECONDS,
      interleaved: interleavedMs / 1000 / FRAME_SECONDS,
      share: {
        backbone: ((1 + text / audio) * s.backboneStepMs) / interleavedMs,
        depthformer: s.depthformerFrameMs / interleavedMs,
        mimi: s.mimiFrameMs / interleavedMs,
      },
      timeToFirstAudioMs: s.encodeAudioMs + s.prefillMs + text * s.backboneStepMs + s.depthformerFrameMs + s.mimiFrameMs,
    };
    const measuredRtf = withAudio.length ? median(withAudio.map((a) => a.generationMs / 1000 / a.speechSeconds)) : undefined;
    return {
      weightFormat,
      codecFormat: "f32",
      emittedAudio: withAudio.length > 0,
      answers: r.answers,
      measured: {
        timeToFirstAudioMs: m(r.answers.map((a) => a.timeToFirstAudioMs)),
        timeToFirstTextMs: m(r.answers.map((a) => a.timeToFirstTextMs)),
        totalMs: m(r.answers.map((a) => a.totalMs)),
        speechSeconds: m(r.answers.map((a) => a.speechSeconds)),
        audioFrames: m(r.answers.map((a) => a.audioFrames)),
        textSteps: m(r.answers.map((a) => a.textSteps)),
        promptTokens: r.answers[0]?.promptTokens,
        rtf: measuredRtf,
        rtfDefinition: "generation after the prompt's prefill (every text step, audio frame and Mimi decode) ÷ seconds of speech produced",
      },
      perStep: {
        encodeAudioMs: +s.encodeAudioMs.toFixed(1),
        prefillMs: +s.prefillMs.toFixed(1),
        prefillPositions: s.prefillPositions,
        backboneStepMs: +s.backboneStepMs.toFixed(2),
        depthformerFrameMs: +s.depthformerFrameMs.toFixed(2),
        mimiFrameMs: +s.mimiFrameMs.toFixed(2),
        samples: s.samples,
      },
      computed: {
        rtfAudioOnly: +computed.audioOnly.toFixed(3),
        rtfInterleaved: +computed.interleaved.toFixed(3),
        share: Object.fromEntries(Object.entries(computed.share).map(([k, v]) => [k, +v.toFixed(3)])),
        timeToFirstAudioMs: +computed.timeToFirstAudioMs.toFixed(0),
      },
      goal: { ...against(measuredRtf ?? computed.interleaved, GOAL_RTF, "max"), met: (measuredRtf ?? computed.interleaved) < GOAL_RTF, appliesTo: "q4" },
      goalFrom: measuredRtf === undefined ? "computed from per-step costs (no audio emitted)" : "measured",
      interleaved: r.interleaved,
      firstFrames: r.firstFrames,
      loadMs: Math.round(r.loadMs),
      graphBuilt: r.graphBuilt,
      peakRssGB: gb(r.peakRssBytes),
    };
  });

  const summary = {
    date: new Date().toISOString(),
    model: "LFM2-Audio-1.5B shape + kyutai/mimi shape (8 codebooks), random weights (published.ts)",
    threads: args.threads,
    reps: args.reps,
    questionSeconds: args.questionSeconds,
    stepsPerAnswer: args.steps,
    seed: args.seed,
    goal: { rtfBelow: GOAL_RTF, at: "q4" },
    limit: "real time: 12.5 Mimi frames per second of speech (80 ms per frame)",
    method:
      "each format in a fresh process: AudioChat.load, one untimed 2-s warm-up answer, --reps answers to the 10-s question (fresh conversation each); then per-step costs on the loaded parts: encodeAudio, backbone prefill of the prompt, and --step-samples of depthformer frame / backbone step / Mimi one-frame push (medians)",
    rows,
    wallSeconds: Math.round((performance.now() - started) / 1000),
  };
  writeResults("speech", summary);

  console.log(`\nLFM2-Audio-1.5B shape (random weights), interleaved speech out, ${args.threads} threads, ${args.questionSeconds}-s question, medians of ${args.reps}`);
  printTable([
    ["format", "audio?", "frames", "1st audio ms", "RTF meas.", "backbone ms", "depth ms", "mimi ms", "RTF audio-only", "RTF interleaved", "1st audio est. ms", "peak RSS GB"],
    ...rows.map((r) => [
      r.weightFormat,
      r.emittedAudio ? "yes" : "NO",
      fixed(r.measured.audioFrames, 0),
      fixed(r.measured.timeToFirstAudioMs, 0),
      fixed(r.measured.rtf, 3),
      fixed(r.perStep.backboneStepMs),
      fixed(r.perStep.depthformerFrameMs),
      fixed(r.perStep.mimiFrameMs),
      fixed(r.computed.rtfAudioOnly, 3),
      fixed(r.computed.rtfInterleaved, 3),
      fixed(r.computed.timeToFirstAudioMs, 0),
      fixed(r.peakRssGB, 2),
    ]),
  ]);
  console.log("\nwhere the time of a second of interleaved speech goes (per-step costs):");
  for (const r of rows) {
    const sh = r.computed.share as Record<string, number>;
    console.log(`  ${r.weightFormat}: backbone ${(100 * sh.backbone).toFixed(0)} %, depthformer ${(100 * sh.depthformer).toFixed(0)} %, Mimi decode ${(100 * sh.mimi).toFixed(0)} %`);
  }
  console.log("\ntime to first audio from the per-step costs (encode the question + prefill + text steps + first frame + its Mimi decode):");
  for (const r of rows) {
    const p = r.perStep;
    const text = r.interleaved.text;
    console.log(
      `  ${r.weightFormat}: ${fixed(p.encodeAudioMs, 0)} + ${fixed(p.prefillMs, 0)} (${p.prefillPositions} positions) + ${text} × ${fixed(p.backboneStepMs)} + ${fixed(p.depthformerFrameMs)} + ${fixed(p.mimiFrameMs)} = ${fixed(r.computed.timeToFirstAudioMs, 0)} ms; measured ${fixed(r.measured.timeToFirstAudioMs, 0)} ms`,
    );
  }
  console.log("\nagainst the goal (RTF < 1 at q4):");
  for (const r of rows) {
    const v = `${r.goal.value.toFixed(3)} (goal < ${GOAL_RTF}${r.weightFormat === "q4" ? "" : ", set for q4"}: ${r.goal.ratioToGoal.toFixed(2)}× the goal, ${r.goal.met ? "met" : "MISSED"})`;
    console.log(`  ${r.weightFormat}: RTF ${v} [${r.goalFrom}]${r.emittedAudio ? "" : " — random weights emitted no audio frame"}`);
  }
  console.log(`\nwrote results/speech.json (${summary.wallSeconds} s)`);
}

const spec = childSpec<Spec>();
if (spec) await child(spec);
else await main();
