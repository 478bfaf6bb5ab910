#!/usr/bin/env node
/**
 * One lfmkit measurement in a fresh process (so peak RSS is its own): load, prefill, decode, and
 * optionally decode after a long context. Prints one JSON line.
 */
import { statSync } from "node:fs";
import { argmax, weightFormatSchema } from "@lfmkit/core";
import { TextModel } from "@lfmkit/text";
import { median } from "./harness.js";
import { runSpecSchema, syntheticPrompt, warmUp, type RunResult } from "./run-spec.js";

const spec = runSpecSchema.parse(JSON.parse(process.argv[2]));
const loadStart = performance.now();
const model = await TextModel.load(spec.model, { weightFormat: weightFormatSchema.parse(spec.weightFormat), threads: spec.threads, prefillChunk: spec.prefillChunk });
const loadMs = performance.now() - loadStart;
const loadPeakRssBytes = process.resourceUsage().maxRSS * 1024;
const weightBytes = model.graph.weightFiles.reduce((sum, file) => sum + statSync(file).size, 0);
const vocab = spec.vocab;
const next = (logits: Float32Array) => argmax(logits.subarray(logits.length - vocab));

const fixedInput = syntheticPrompt(spec.promptTokens + spec.decodeTokens, vocab).slice(spec.promptTokens);

async function decode(state: ReturnType<TextModel["newState"]>, logits: Float32Array): Promise<number> {
  const start = performance.now();
  for (let i = 0; i < spec.decodeTokens; i++) {
    ({ logits } = await model.forward(state, [spec.decodeInput === "fixed" ? fixedInput[i] : next(logits)]));
  }
  return (spec.decodeTokens / (performance.now() - start)) * 1000;
}

{
  const warm = warmUp(spec);
  const state = model.newState();
  let { logits } = await model.forward(state, warm.prompt);
  for (let i = 0; i < warm.decodeSteps; i++) ({ logits } = await model.forward(state, [next(logits)]));
}

const prompt = syntheticPrompt(spec.promptTokens, vocab);
/** One prefill from an empty context, timed. */
async function prefill() {
  const state = model.newState();
  const start = performance.now();
  const { logits } = await model.forward(state, prompt);
  const prefillMs = performance.now() - start;
  const firstToken = next(logits);
  return { state, logits, firstToken, times: { prefillMs, timeToFirstTokenMs: performance.now() - start } };
}

/**
 * `prefillRuns` timed prefills, then decoding on from the last. Only the state being used is kept,
 * and none outlives this function, so earlier runs' caches do not add to the long-context peak RSS.
 */
async function prefillsThenDecode() {
  const times = [];
  for (let run = 1; run < spec.prefillRuns; run++) times.push((await prefill()).times);
  const last = await prefill();
  times.push(last.times);
  return { times, firstToken: last.firstToken, decodeTokensPerSecond: await decode(last.state, last.logits) };
}
const { times: prefillTimes, firstToken, decodeTokensPerSecond } = await prefillsThenDecode();

let decodeLongTokensPerSecond: number | undefined;
if (spec.longContext > 0) {
  const long = model.newState();
  const { logits: longLogits } = await model.forward(long, syntheticPrompt(spec.longContext, vocab));
  decodeLongTokensPerSecond = await decode(long, longLogits);
}
await model.dispose();
const result: RunResult = {
  loadMs,
  graphCached: !model.graph.built,
  loadPeakRssBytes,
  peakRssBytes: process.resourceUsage().maxRSS * 1024,
  weightBytes,
  prefillTokensPerSecond: (spec.promptTokens / median(prefillTimes.map((t) => t.prefillMs))) * 1000,
  timeToFirstTokenMs: median(prefillTimes.map((t) => t.timeToFirstTokenMs)),
  decodeTokensPerSecond,
  decodeLongTokensPerSecond,
  firstToken,
};
console.log(JSON.stringify(result));
