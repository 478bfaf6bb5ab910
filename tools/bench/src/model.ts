#!/usr/bin/env node
/**
 * Prefill and decode throughput of one model folder at one weight format, measured with the same
 * code path `lfm generate` uses. Writes a JSON record under tools/bench/results/.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { argmax } from "@lfmkit/core";
import { TextModel } from "@lfmkit/text";
import { Command, Option } from "commander";
import { z } from "zod";

const argsSchema = z.object({
  model: z.string(),
  dtype: z.enum(["f32", "q8", "q4"]),
  promptTokens: z.coerce.number().int().positive(),
  decodeTokens: z.coerce.number().int().positive(),
  runs: z.coerce.number().int().positive(),
  threads: z.coerce.number().int().positive().optional(),
  prefillChunk: z.coerce.number().int().positive().optional(),
  json: z.boolean().default(false),
});

const program = new Command()
  .name("bench")
  .requiredOption("--model <dir>", "model folder")
  .addOption(new Option("--dtype <dtype>", "weight format").choices(["f32", "q8", "q4"]).default("f32"))
  .option("--prompt-tokens <n>", "prefill length", "512")
  .option("--decode-tokens <n>", "tokens decoded after the prompt", "128")
  .option("--runs <n>", "repetitions (the median is reported)", "3")
  .option("--threads <n>", "ONNX Runtime intra-op threads")
  .option("--prefill-chunk <n>", "longest prompt chunk per forward pass (default 512)")
  .option("--json", "print the result as one JSON line");
program.parse();
const args = argsSchema.parse(program.opts());

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const loadStart = performance.now();
const model = await TextModel.load(args.model, { dtype: args.dtype, threads: args.threads, prefillChunk: args.prefillChunk });
const loadMs = performance.now() - loadStart;
const vocab = model.config.vocabSize;
const tokens = Math.min(args.promptTokens, model.config.maxPositions - args.decodeTokens);
// A deterministic prompt of ordinary (non-special) ids spread over the vocabulary.
const prompt = Array.from({ length: tokens }, (_, i) => 100 + ((i * 7919) % (vocab - 100)));

const prefill: number[] = [];
const decode: number[] = [];
for (let run = 0; run < args.runs; run++) {
  const state = model.newState();
  let start = performance.now();
  let { logits } = await model.forward(state, prompt);
  prefill.push((tokens / (performance.now() - start)) * 1000);
  start = performance.now();
  for (let i = 0; i < args.decodeTokens; i++) {
    ({ logits } = await model.forward(state, [argmax(logits.subarray(logits.length - vocab))]));
  }
  decode.push((args.decodeTokens / (performance.now() - start)) * 1000);
}
await model.dispose();

const result = {
  model: basename(args.model),
  dtype: args.dtype,
  threads: args.threads ?? "default",
  prefillChunk: args.prefillChunk ?? 512,
  promptTokens: tokens,
  decodeTokens: args.decodeTokens,
  runs: args.runs,
  loadMs: Math.round(loadMs),
  graphBuilt: model.graph.built,
  prefillTokensPerSecond: Math.round(median(prefill)),
  decodeTokensPerSecond: Math.round(median(decode)),
  date: new Date().toISOString(),
};
const resultsDir = join(dirname(fileURLToPath(import.meta.url)), "..", "results");
mkdirSync(resultsDir, { recursive: true });
writeFileSync(join(resultsDir, `${result.model}-${result.dtype}.json`), `${JSON.stringify(result, null, 2)}\n`);
if (args.json) console.log(JSON.stringify(result));
else {
  console.log(`${result.model} ${result.dtype}: prefill ${result.prefillTokensPerSecond} tok/s (${tokens} tokens), decode ${result.decodeTokensPerSecond} tok/s (${args.decodeTokens} tokens), load ${result.loadMs} ms${result.graphBuilt ? " (graph built)" : " (graph cached)"}`);
}
