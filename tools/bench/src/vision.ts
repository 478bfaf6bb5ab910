#!/usr/bin/env node
/**
 * `pnpm bench:vision` — LFM2-VL-450M (random weights of the published shape, published.ts), image to
 * first token at f32 and q8: a 512×512 image (one tile) and a 1920×1080 photo (4×2 tiles of 512, plus
 * the thumbnail unless `--thumbnail off`), split into preprocessing (decode, resize/tile, patchify,
 * prompt expansion and tokenization), the encoder (SigLIP2 tower + projector, one session call), and
 * the decoder's prefill to the first token (plus the first decode step, reported apart).
 *
 * The physical limit the encoder is held against: the multiply-add rate this machine's `Gemm` (f32)
 * or `MatMulNBits` (q8) reaches alone on the encoder's largest matrix shapes (the MLP's fc1 768→3072
 * and fc2 3072→768 over the same rows), measured in the same script — a graph of one `ops.linear`
 * each, in a session of its own, timed right before every encoder run (so both see the same machine;
 * the fastest of three runs after two untimed; the reported fraction is the median of the per-run
 * fractions). The MACs counted for the encoder:
 * patch embedding, q/k/v/out projections, attention scores and mixing, MLP, projector, over every
 * patch slot the batch holds (padding slots are computed too).
 * Goals: encoder ≥ 60 % of that rate; preprocessing ≤ 10 % of image-to-first-token.
 *
 * Each weight format runs in a fresh child process (its peak RSS is its own): load, one untimed
 * 512×512 warm-up, then `--reps` runs per image; medians.
 * Writes results/vision.json.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { GraphBuilder, argmax, openSession, ops, ort, type WeightFormat, weightFormatSchema } from "@lfmkit/core";
import { VisionLanguageChat } from "@lfmkit/pipeline";
import { decodeImage, expandImagePlaceholders, imageLayout, preprocessImages, readVisionConfig, type VisionConfig } from "@lfmkit/vision";
import { Command, Option } from "commander";
import { z } from "zod";
import { DEFAULT_FIXTURES, DEFAULT_WORK, against, answer, childSpec, fixed, gb, median, printTable, random, runChild, timed, verdict, writeResults } from "./harness.js";
import { syntheticImage } from "./media.js";
import { writeVl450m } from "./published.js";

const SCRIPT = fileURLToPath(import.meta.url);
const PROMPT = "Describe this image in detail.";
const GOALS = { encoderFractionOfLimit: 0.6, preprocessingShare: 0.1 };

interface PipelineSpec {
  model: string;
  weightFormat: WeightFormat;
  threads: number;
  reps: number;
  useThumbnail: boolean;
  work: string;
  images: { name: string; path: string }[];
  /** Also time the library's own chat() path to the first token once for the first image. */
  chatCheck: boolean;
}

interface Split {
  decodeImageMs: number;
  preprocessMs: number;
  encoderMs: number;
  prefillMs: number;
  firstDecodeStepMs: number;
  /** The limit, measured just before this run: one fc1-shaped and one fc2-shaped linear alone, ms. */
  fc1Ms: number;
  fc2Ms: number;
}

interface PipelineImageResult {
  name: string;
  runs: Split[];
  tiles: number;
  maxPatches: number;
  realPatches: number;
  imageTokens: number;
  promptTokens: number;
}

interface PipelineResult {
  loadMs: number;
  graphBuilt: boolean;
  images: PipelineImageResult[];
  chatCheck?: { name: string; imageToFirstTokenMs: number };
  peakRssBytes: number;
}

// ------------------------------------------------------------------------------------------ child

/**
 * The time of a graph of one `ops.linear` of shape [rows, inFeatures] → [rows, outFeatures] (no bias)
 * alone: `Gemm` at f32, `MatMulNBits` at q8/q4 (int8 activations, as the encoder's). Its own session,
 * opened, run twice untimed, timed three times (the fastest kept: a limit is the best the kernel
 * does), and released again, so it adds nothing to the encoder run's peak RSS.
 */
async function linearAloneMs(work: string, format: WeightFormat, threads: number, rows: number, inFeatures: number, outFeatures: number): Promise<number> {
  const dir = join(work, "linear", `${format}-${rows}x${inFeatures}x${outFeatures}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    const next = random(outFeatures * 31 + inFeatures);
    const weight = { name: "weight", shape: [outFeatures, inFeatures], read: () => Float32Array.from({ length: outFeatures * inFeatures }, () => (next() - 0.5) * 0.08) };
    const g = new GraphBuilder(join(dir, "graph.onnx.data"), "graph.onnx.data");
    const x = g.input("x", "float32", [rows, inFeatures]);
    g.output(ops.linear(g, x, { weight, format, accuracyLevel: 4 }), "y", "float32", [rows, outFeatures]);
    writeFileSync(join(dir, "graph.onnx"), g.finish("linear"));
    const session = await openSession(join(dir, "graph.onnx"), { threads });
    try {
      const input = { x: new ort.Tensor("float32", Float32Array.from({ length: rows * inFeatures }, () => next() - 0.5), [rows, inFeatures]) };
      // MLAS reaches its steady rate after two or three runs of a fresh session (measured on this VM).
      for (let warm = 0; warm < 2; warm++) await session.run(input);
      const times: number[] = [];
      for (let run = 0; run < 3; run++) times.push((await timed(() => session.run(input))).ms);
      return Math.min(...times);
    } finally {
      await session.release();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function pipelineChild(spec: PipelineSpec): Promise<void> {
  const loadStart = performance.now();
  const chat = await VisionLanguageChat.load(spec.model, {
    weightFormat: spec.weightFormat,
    threads: spec.threads,
    prefixCacheBytes: 0,
    imageProcessor: { useThumbnail: spec.useThumbnail },
  });
  const loadMs = performance.now() - loadStart;
  const config = JSON.parse(readFileSync(join(spec.model, "config.json"), "utf8")) as { image_token_id: number };
  const { hiddenSize, vocabSize } = chat.decoder.config;
  const { hiddenSize: D, intermediateSize: I } = chat.encoder.config.tower;
  const settings = chat.imageSettings;

  /** One image through the chat path's steps, each timed. */
  const once = async (path: string) => {
    const t0 = performance.now();
    const image = await decodeImage(path);
    const t1 = performance.now();
    const template = chat.tokenizer.applyChatTemplate([{ role: "user", content: [{ type: "image" }, { type: "text", text: PROMPT }] }], { addGenerationPrompt: true });
    const ids = chat.tokenizer.encode(expandImagePlaceholders(template, [imageLayout(image, settings)], settings));
    const { batch } = preprocessImages([image], settings);
    const t2 = performance.now();
    const { features, tokens } = await chat.encoder.encode(batch);
    const t3 = performance.now();
    const state = chat.decoder.newState();
    const embeddings = chat.decoder.embed(ids);
    let row = 0;
    ids.forEach((id, position) => {
      if (id === config.image_token_id) embeddings.set(features.subarray(row * hiddenSize, ++row * hiddenSize), position * hiddenSize);
    });
    if (row !== tokens) throw new Error(`${row} image tokens in the prompt for ${tokens} image features`);
    const { logits } = await chat.decoder.forwardEmbeddings(state, embeddings);
    const first = argmax(logits.subarray(logits.length - vocabSize));
    const t4 = performance.now();
    const next = await chat.decoder.forward(state, [first]);
    argmax(next.logits.subarray(next.logits.length - vocabSize));
    const t5 = performance.now();
    let realPatches = 0;
    for (const m of batch.pixelAttentionMask) realPatches += m;
    const split = { decodeImageMs: t1 - t0, preprocessMs: t2 - t0, encoderMs: t3 - t2, prefillMs: t4 - t3, firstDecodeStepMs: t5 - t4 };
    return { split, tiles: batch.tiles, maxPatches: batch.maxPatches, realPatches, imageTokens: tokens, promptTokens: ids.length };
  };

  await once(spec.images[0].path); // warm-up: first-call allocations of the small case, not timed
  const images: PipelineImageResult[] = [];
  for (const { name, path } of spec.images) {
    // The limit at this image's encoder rows, timed right before each run (this VM's speed drifts).
    const { width, height } = await decodeImage(path);
    const layout = imageLayout({ width, height }, settings);
    const rows = layout.tiles.length * layout.maxPatches;
    const runs = [];
    for (let rep = 0; rep < spec.reps; rep++) {
      const fc1Ms = await linearAloneMs(spec.work, spec.weightFormat, spec.threads, rows, D, I);
      const fc2Ms = await linearAloneMs(spec.work, spec.weightFormat, spec.threads, rows, I, D);
      const run = await once(path);
      runs.push({ ...run, split: { ...run.split, fc1Ms, fc2Ms } });
      process.stderr.write(`  vision ${spec.weightFormat} ${name} rep ${rep + 1}/${spec.reps}: encoder ${run.split.encoderMs.toFixed(0)} ms, fc1+fc2 alone ${(fc1Ms + fc2Ms).toFixed(0)} ms\n`);
    }
    const { tiles, maxPatches, realPatches, imageTokens, promptTokens } = runs[0];
    images.push({ name, runs: runs.map((r) => r.split), tiles, maxPatches, realPatches, imageTokens, promptTokens });
  }

  let chatCheck: PipelineResult["chatCheck"];
  if (spec.chatCheck) {
    const { name, path } = spec.images[0];
    const start = performance.now();
    for await (const event of chat.chat([{ role: "user", content: [{ type: "image", image: path }, { type: "text", text: PROMPT }] }], { maxTokens: 1, temperature: 0 })) {
      if (event.type === "done") chatCheck = { name, imageToFirstTokenMs: performance.now() - start };
    }
  }
  const graphBuilt = chat.decoder.graph.built || chat.encoder.graph.built;
  await chat.dispose();
  answer({ loadMs, graphBuilt, images, chatCheck });
}

// ------------------------------------------------------------------------------------------ counting

/**
 * Multiply-adds of one encoder call over `tiles` tiles of `maxPatches` patch slots (padding slots are
 * computed too) and `tokens` image tokens out of the projector.
 */
function encoderMacs(config: VisionConfig, tiles: number, maxPatches: number, tokens: number) {
  const t = config.tower;
  const p = config.projector;
  const rows = tiles * maxPatches;
  const D = t.hiddenSize;
  const macs = {
    patchEmbedding: rows * t.channels * t.patchSize ** 2 * D,
    attentionProjections: t.layers * 4 * rows * D * D,
    attentionScoresAndMixing: t.layers * 2 * tiles * maxPatches ** 2 * D,
    mlp: t.layers * 2 * rows * D * t.intermediateSize,
    projector: tokens * p.downsampleFactor ** 2 * D * p.hiddenSize + tokens * p.hiddenSize * p.outputSize,
  };
  return { ...macs, total: Object.values(macs).reduce((a, b) => a + b, 0) };
}

// ------------------------------------------------------------------------------------------ parent

async function main(): Promise<void> {
  const program = new Command()
    .name("bench:vision")
    .option("--reps <n>", "timed repetitions per image (medians reported)", "3")
    .option("--threads <n>", "ONNX Runtime intra-op threads", "2")
    .option("--formats <list>", "weight formats, comma-separated", "f32,q8")
    .addOption(new Option("--thumbnail <on|off>", "thumbnail after the photo's tiles (the published 450M processor config says off)").choices(["on", "off"]).default("on"))
    .option("--chat-check <on|off>", "also time the library's chat() to the first token once (512×512 image)", "on")
    .option("--work <dir>", "synthetic checkpoint and images", DEFAULT_WORK)
    .option("--fixtures <dir>", "tiny fixtures whose layouts the checkpoint follows", DEFAULT_FIXTURES)
    .option("--cache-dir <dir>", "graph cache (default <work>/cache)");
  program.parse();
  const args = z
    .object({
      reps: z.coerce.number().int().positive(),
      threads: z.coerce.number().int().positive(),
      formats: z.string().transform((s) => s.split(",").map((f) => weightFormatSchema.parse(f.trim()))),
      thumbnail: z.enum(["on", "off"]),
      chatCheck: z.enum(["on", "off"]),
      work: z.string(),
      fixtures: z.string(),
      cacheDir: z.string().optional(),
    })
    .parse(program.opts());
  const cacheDir = args.cacheDir ?? join(args.work, "cache");
  const started = performance.now();

  const model = writeVl450m(args.work, args.fixtures);
  const images = [
    { name: "512x512", path: await syntheticImage(join(args.work, "images"), "square-512x512.png", 512, 512) },
    { name: "1920x1080", path: await syntheticImage(join(args.work, "images"), "photo-1920x1080.jpg", 1920, 1080) },
  ];
  const vision = readVisionConfig(model);
  const { hiddenSize: D, intermediateSize: I } = vision.tower;

  const perFormat: Record<string, PipelineResult> = {};
  for (const weightFormat of args.formats) {
    process.stderr.write(`${weightFormat}: image to first token, and the linear limit\n`);
    perFormat[weightFormat] = runChild<PipelineResult>(
      SCRIPT,
      { model, weightFormat, threads: args.threads, reps: args.reps, useThumbnail: args.thumbnail === "on", work: args.work, images, chatCheck: args.chatCheck === "on" } satisfies PipelineSpec,
      cacheDir,
    );
  }

  const rows: Record<string, unknown>[] = [];
  for (const [weightFormat, pipeline] of Object.entries(perFormat)) {
    for (const image of pipeline.images) {
      const m = (pick: (s: Split) => number) => median(image.runs.map(pick));
      const preprocessMs = m((s) => s.preprocessMs);
      const encoderMs = m((s) => s.encoderMs);
      const prefillMs = m((s) => s.prefillMs);
      const imageToFirstTokenMs = m((s) => s.preprocessMs + s.encoderMs + s.prefillMs);
      const macs = encoderMacs(vision, image.tiles, image.maxPatches, image.imageTokens);
      const encoderRows = image.tiles * image.maxPatches;
      const fcMacs = 2 * encoderRows * D * I;
      const limit = fcMacs / m((s) => s.fc1Ms + s.fc2Ms) / 1e6;
      const encoderRate = macs.total / encoderMs / 1e6;
      // Per run, the encoder against the limit measured just before it; the median of those.
      const fraction = m((s) => macs.total / s.encoderMs / (fcMacs / (s.fc1Ms + s.fc2Ms)));
      rows.push({
        weightFormat,
        image: image.name,
        tiles: image.tiles,
        encoderRows,
        realPatches: image.realPatches,
        imageTokens: image.imageTokens,
        promptTokens: image.promptTokens,
        ms: {
          decodeImage: +m((s) => s.decodeImageMs).toFixed(1),
          preprocessing: +preprocessMs.toFixed(1),
          encoder: +encoderMs.toFixed(1),
          prefillToFirstToken: +prefillMs.toFixed(1),
          imageToFirstToken: +imageToFirstTokenMs.toFixed(1),
          firstDecodeStep: +m((s) => s.firstDecodeStepMs).toFixed(1),
        },
        runs: image.runs,
        encoderGmac: +(macs.total / 1e9).toFixed(2),
        encoderGmacBreakdown: Object.fromEntries(Object.entries(macs).map(([k, v]) => [k, +(v / 1e9).toFixed(3)])),
        encoderGmacPerSecond: +encoderRate.toFixed(2),
        limit: {
          what: `${weightFormat === "f32" ? "Gemm" : "MatMulNBits"} alone on fc1 ${D}→${I} + fc2 ${I}→${D} over ${encoderRows} rows`,
          gmacPerSecond: +limit.toFixed(2),
          fc1Ms: +m((s) => s.fc1Ms).toFixed(1),
          fc2Ms: +m((s) => s.fc2Ms).toFixed(1),
        },
        encoderFractionOfLimit: against(fraction, GOALS.encoderFractionOfLimit, "min"),
        preprocessingShare: against(preprocessMs / imageToFirstTokenMs, GOALS.preprocessingShare, "max"),
        peakRssGB: gb(pipeline.peakRssBytes),
      });
    }
  }

  const summary = {
    date: new Date().toISOString(),
    model: "LFM2-VL-450M shape, random weights (published.ts)",
    threads: args.threads,
    reps: args.reps,
    useThumbnail: args.thumbnail === "on",
    prompt: PROMPT,
    goals: GOALS,
    physicalLimit:
      "the multiply-add rate of one Gemm (f32) / MatMulNBits (q8, int8 activations) node alone on the encoder's MLP shapes (fc1, fc2) over the same rows, same threads, measured in this run",
    method:
      "each format in a fresh process: load, one untimed 512×512 warm-up, then --reps runs per image; medians. preprocessing = decodeImage + template, tile layout, prompt expansion and tokenization + preprocessImages; encoder = VisionEncoder.encode (tower + projector, one call); prefill = embed + splice + forwardEmbeddings to the first token's logits and argmax; first decode step reported apart",
    loads: Object.fromEntries(Object.entries(perFormat).map(([f, r]) => [f, { loadMs: Math.round(r.loadMs), graphBuilt: r.graphBuilt, peakRssGB: gb(r.peakRssBytes) }])),
    chatCheck: Object.fromEntries(Object.entries(perFormat).flatMap(([f, r]) => (r.chatCheck ? [[f, r.chatCheck]] : []))),
    rows,
    wallSeconds: Math.round((performance.now() - started) / 1000),
  };
  writeResults("vision", summary);

  console.log(`\nLFM2-VL-450M shape (random weights), ${args.threads} threads, medians of ${args.reps}; thumbnail ${args.thumbnail}`);
  printTable([
    ["format/image", "tiles", "tokens", "preproc ms", "encoder ms", "prefill ms", "1st step ms", "img→1st tok ms", "preproc share", "enc GMAC", "enc GMAC/s", "limit GMAC/s", "enc/limit", "peak RSS GB"],
    ...rows.map((r) => {
      const ms = r.ms as Record<string, number>;
      const limit = r.limit as { gmacPerSecond: number };
      return [
        `${r.weightFormat} ${r.image}`,
        String(r.tiles),
        String(r.imageTokens),
        fixed(ms.preprocessing),
        fixed(ms.encoder),
        fixed(ms.prefillToFirstToken),
        fixed(ms.firstDecodeStep),
        fixed(ms.imageToFirstToken),
        fixed((r.preprocessingShare as { value: number }).value, 3),
        fixed(r.encoderGmac as number, 1),
        fixed(r.encoderGmacPerSecond as number),
        fixed(limit.gmacPerSecond),
        fixed((r.encoderFractionOfLimit as { value: number }).value, 3),
        fixed(r.peakRssGB as number, 2),
      ];
    }),
  ]);
  console.log("\nagainst the goals:");
  for (const r of rows) {
    console.log(`  ${r.weightFormat} ${r.image}: encoder ÷ ${(r.limit as { what: string }).what.split(" on ")[0]} limit ${verdict(r.encoderFractionOfLimit as never, "min")}`);
    console.log(`  ${r.weightFormat} ${r.image}: preprocessing share ${verdict(r.preprocessingShare as never, "max")}`);
  }
  for (const [f, check] of Object.entries(summary.chatCheck)) {
    const row = rows.find((r) => r.weightFormat === f && r.image === check.name)!;
    console.log(`  ${f} ${check.name}: chat() to first token ${check.imageToFirstTokenMs.toFixed(0)} ms (one run) against the split's ${(row.ms as { imageToFirstToken: number }).imageToFirstToken.toFixed(0)} ms`);
  }
  console.log(`\nwrote results/vision.json (${summary.wallSeconds} s)`);
}

const spec = childSpec<PipelineSpec>();
if (spec) await pipelineChild(spec);
else await main();
