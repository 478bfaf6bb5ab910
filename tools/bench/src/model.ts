#!/usr/bin/env node
/**
 * Prefill and decode throughput of one model (folder or GGUF) at one weight format: `--runs`
 * measurements by run-lfmkit, each in a fresh process, medians reported. The first run builds the
 * graph if it is not cached. Writes results/<model>-<weight-format>.json.
 */
import { basename } from "node:path";
import { WEIGHT_FORMATS, weightFormatSchema } from "@lfmkit/core";
import { openTextCheckpoint } from "@lfmkit/text";
import { Command, Option } from "commander";
import { z } from "zod";
import { median, writeResults } from "./harness.js";
import { measure } from "./run-spec.js";

const argsSchema = z.object({
  model: z.string(),
  weightFormat: weightFormatSchema,
  promptTokens: z.coerce.number().int().positive(),
  decodeTokens: z.coerce.number().int().positive(),
  runs: z.coerce.number().int().positive(),
  threads: z.coerce.number().int().positive().optional(),
  prefillChunk: z.coerce.number().int().positive().optional(),
  json: z.boolean().default(false),
});

const program = new Command()
  .name("bench:model")
  .requiredOption("--model <dir>", "model folder or GGUF file")
  .addOption(new Option("--weight-format <format>", "how linear weights are stored").choices(WEIGHT_FORMATS).default("f32"))
  .option("--prompt-tokens <n>", "prefill length", "512")
  .option("--decode-tokens <n>", "tokens decoded after the prompt", "128")
  .option("--runs <n>", "repetitions (the median is reported)", "3")
  .option("--threads <n>", "ONNX Runtime intra-op threads")
  .option("--prefill-chunk <n>", "longest prompt chunk per forward pass (default: the library's)")
  .option("--json", "print the result as one JSON line");
program.parse();
const args = argsSchema.parse(program.opts());

const config = openTextCheckpoint(args.model).config;
const promptTokens = Math.min(args.promptTokens, config.maxPositions - args.decodeTokens);
const runs = Array.from({ length: args.runs }, () =>
  measure("run-lfmkit.js", {
    model: args.model,
    vocab: config.vocabSize,
    weightFormat: args.weightFormat,
    threads: args.threads,
    prefillChunk: args.prefillChunk,
    promptTokens,
    decodeTokens: args.decodeTokens,
    longContext: 0,
  }),
);

const result = {
  model: basename(args.model),
  weightFormat: args.weightFormat,
  threads: args.threads ?? "default",
  prefillChunk: args.prefillChunk ?? "default",
  promptTokens,
  decodeTokens: args.decodeTokens,
  runs: args.runs,
  firstLoadMs: Math.round(runs[0].loadMs),
  graphBuiltByFirstRun: !runs[0].graphCached,
  cachedLoadMs: runs.length > 1 ? Math.round(median(runs.slice(1).map((r) => r.loadMs))) : null,
  prefillTokensPerSecond: Math.round(median(runs.map((r) => r.prefillTokensPerSecond))),
  decodeTokensPerSecond: Math.round(median(runs.map((r) => r.decodeTokensPerSecond))),
  date: new Date().toISOString(),
};
writeResults(`${result.model}-${result.weightFormat}`, result);
if (args.json) console.log(JSON.stringify(result));
else {
  console.log(
    `${result.model} ${result.weightFormat}: prefill ${result.prefillTokensPerSecond} tok/s (${promptTokens} tokens), decode ${result.decodeTokensPerSecond} tok/s (${args.decodeTokens} tokens), load ${result.firstLoadMs} ms${result.graphBuiltByFirstRun ? " (graph built)" : ""}${result.cachedLoadMs === null ? "" : `, cached ${result.cachedLoadMs} ms`}`,
  );
}
