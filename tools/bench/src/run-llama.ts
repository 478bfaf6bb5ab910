#!/usr/bin/env node
/** The same measurement as run-lfmkit, with node-llama-cpp (llama.cpp's CPU backend) on a GGUF. */
import { statSync } from "node:fs";
import { LlamaLogLevel, getLlama } from "node-llama-cpp";
import { median } from "./harness.js";
import { runSpecSchema, syntheticPrompt, warmUp, type RunResult } from "./run-spec.js";

const spec = runSpecSchema.parse(JSON.parse(process.argv[2]));
const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
const loadStart = performance.now();
const model = await llama.loadModel({ modelPath: spec.model, gpuLayers: 0 });
const contextSize = Math.max(spec.promptTokens, spec.longContext) + spec.decodeTokens + 16;
const context = await model.createContext({ contextSize, threads: spec.threads, batchSize: 512 });
const loadMs = performance.now() - loadStart;
const loadPeakRssBytes = process.resourceUsage().maxRSS * 1024;

const fixedInput = syntheticPrompt(spec.promptTokens + spec.decodeTokens, spec.vocab).slice(spec.promptTokens);

/**
 * `decodeTokens` steps from `last` (the prompt's last token, not yet evaluated), each one token in and
 * the next token's logits and greedy choice out. "greedy" feeds each step the previous choice
 * (node-llama-cpp's generator); "fixed" feeds `last`, then the prompt's continuation as run-lfmkit
 * does, one `controlledEvaluate` per step so each step still computes its logits and samples.
 */
async function decode(sequence: ReturnType<typeof context.getSequence>, last: number): Promise<number> {
  const start = performance.now();
  if (spec.decodeInput === "fixed") {
    const inputs = [last, ...fixedInput.slice(0, spec.decodeTokens - 1)];
    for (const token of inputs) await sequence.controlledEvaluate([[token as never, { generateNext: { token: true, options: { temperature: 0 } } }]]);
  } else {
    let produced = 0;
    for await (const _ of sequence.evaluate([last as never], { temperature: 0 })) {
      if (++produced >= spec.decodeTokens) break;
    }
  }
  return (spec.decodeTokens / (performance.now() - start)) * 1000;
}

const sequence = context.getSequence();
{
  const warm = warmUp(spec);
  await sequence.evaluateWithoutGeneratingNewTokens(warm.prompt.slice(0, -1) as never[]);
  let produced = 0;
  for await (const _ of sequence.evaluate([warm.prompt[warm.prompt.length - 1] as never], { temperature: 0 })) if (++produced >= warm.decodeSteps) break;
  await sequence.clearHistory();
}
const prompt = syntheticPrompt(spec.promptTokens, spec.vocab);
const prefills: { prefillMs: number; timeToFirstTokenMs: number }[] = [];
let firstToken = -1;
for (let run = 0; run < spec.prefillRuns; run++) {
  const start = performance.now();
  await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1) as never[]);
  const prefillMs = performance.now() - start;
  for await (const token of sequence.evaluate([prompt[prompt.length - 1] as never], { temperature: 0 })) {
    firstToken = Number(token);
    break;
  }
  prefills.push({ prefillMs, timeToFirstTokenMs: performance.now() - start });
  await sequence.clearHistory();
}
await sequence.evaluateWithoutGeneratingNewTokens(prompt.slice(0, -1) as never[]);
const decodeTokensPerSecond = await decode(sequence, prompt[prompt.length - 1]);

let decodeLongTokensPerSecond: number | undefined;
if (spec.longContext > 0) {
  await sequence.clearHistory();
  const long = syntheticPrompt(spec.longContext, spec.vocab);
  await sequence.evaluateWithoutGeneratingNewTokens(long.slice(0, -1) as never[]);
  decodeLongTokensPerSecond = await decode(sequence, long[long.length - 1]);
}
await context.dispose();
await model.dispose();
const result: RunResult = {
  loadMs,
  graphCached: true,
  loadPeakRssBytes,
  peakRssBytes: process.resourceUsage().maxRSS * 1024,
  weightBytes: statSync(spec.model).size,
  prefillTokensPerSecond: ((spec.promptTokens - 1) / median(prefills.map((p) => p.prefillMs))) * 1000,
  timeToFirstTokenMs: median(prefills.map((p) => p.timeToFirstTokenMs)),
  decodeTokensPerSecond,
  decodeLongTokensPerSecond,
  firstToken,
};
console.log(JSON.stringify(result));
