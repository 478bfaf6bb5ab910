#!/usr/bin/env node
/**
 * `lfm batch` and `lfm worker`: the lfm CLI runs this file with the arguments after `batch`
 * (and `worker …` for `lfm worker`).
 */
import { resolve } from "node:path";
import { WEIGHT_FORMATS } from "@lfmkit/core";
import { loadModel } from "@lfmkit/pipeline";
import { Command, Option } from "commander";
import type { z } from "zod";
import { runBatch } from "./batch-command.js";
import {
  batchArgsSchema,
  captionArgsSchema,
  checkRunMode,
  defaultOutput,
  describeIssues,
  transcribeArgsSchema,
  workerArgsSchema,
  type RunArgs,
} from "./cli-options.js";
import { DEFAULT_QUEUE_NAME } from "./distributed/queued-job.js";
import { RedisLink } from "./distributed/redis-link.js";
import { runWorker } from "./distributed/worker.js";
import { DEFAULT_CAPTION_PROMPT, captionSource, transcribeSource } from "./folder-jobs.js";
import { jsonlSource, type JobSource } from "./job-source.js";
import { formatSummary } from "./progress.js";

let commandName = "lfm batch";
let verbose = false;

const program = new Command()
  .name("lfm batch")
  .description("run a JSONL file of chat jobs on a model, here or on workers through a Redis queue")
  .enablePositionalOptions()
  .showHelpAfterError("(add --help for the options)");

addRunOptions(
  program
    .option("--input <file>", "jobs, one JSON object a line (see the README for the contract)")
    .option("--output <file>", "results, one JSON object a line; ids already there are skipped (resume)"),
).action((options: Record<string, unknown>) => batch(parse(batchArgsSchema, options), () => jsonlSource(String(options.input))));

addFolderJobOptions(addRunOptions(program.command("caption").argument("<dir>", "folder of images (searched recursively)")))
  .description("caption every image under a folder")
  .option("--output <file>", "results (default: <folder name>.captions.jsonl here)")
  .option("--prompt <text>", "the question asked of each image", DEFAULT_CAPTION_PROMPT)
  .action((dir: string, options: Record<string, unknown>) => {
    const args = parse(captionArgsSchema, options);
    const jobOptions = { max_tokens: args.maxTokens, temperature: args.temperature };
    return batch({ ...args, output: args.output ?? defaultOutput(dir, "captions") }, () => captionSource(dir, args.prompt, jobOptions));
  });

addFolderJobOptions(addRunOptions(program.command("transcribe").argument("<dir>", "folder of WAV files (searched recursively)")))
  .description("transcribe every WAV file under a folder (needs an LFM2-Audio model)")
  .option("--output <file>", "results (default: <folder name>.transcripts.jsonl here)")
  .action((dir: string, options: Record<string, unknown>) => {
    const args = parse(transcribeArgsSchema, options);
    const jobOptions = { max_tokens: args.maxTokens, temperature: args.temperature };
    return batch({ ...args, output: args.output ?? defaultOutput(dir, "transcripts") }, () => transcribeSource(dir, jobOptions));
  });

addModelOptions(program.command("worker"))
  .description("take jobs from a Redis queue and run them on a model (run one on each machine)")
  .option("--queue <url>", "the Redis that holds the queue: redis://HOST:PORT")
  .option("--concurrency <n>", "jobs run at once", "1")
  .option("--queue-name <name>", "queue name", DEFAULT_QUEUE_NAME)
  .option("--lock-duration <ms>", "a job's lock without renewal: how soon a killed worker's job is taken again", "30000")
  .option("--stalled-interval <ms>", "how often to look for jobs whose worker died", "30000")
  .option("--max-stalled <n>", "times a job may lose its worker before it fails", "2")
  .option("--audio-dir <dir>", "where speech answers are written (the path is in the result record)", "lfm-batch-audio")
  .option("--redis-retry <seconds>", "how long a lost Redis connection is retried before giving up", "30")
  .option("--verbose", "print stack traces on errors")
  .action(async (options: Record<string, unknown>) => {
    commandName = "lfm worker";
    const args = parse(workerArgsSchema, options);
    const link = new RedisLink(args.queue, args.redisRetry);
    const loading = loadModel(args.model, { codec: args.codec, weightFormat: args.weightFormat, threads: args.threads, cacheDir: args.cacheDir });
    loading.catch(() => {}); // awaited by runWorker, after the connection is up
    await runWorker(
      loading,
      link,
      {
        queueName: args.queueName,
        concurrency: args.concurrency,
        lockDurationMs: args.lockDuration,
        stalledIntervalMs: args.stalledInterval,
        maxStalled: args.maxStalled,
        audioDir: resolve(args.audioDir),
      },
      (line) => process.stdout.write(`${line}\n`),
    );
  });

function addModelOptions(command: Command): Command {
  return command
    .option("--model <dir>", "model folder (config.json, *.safetensors, tokenizer.json) or GGUF file")
    .option("--codec <path>", "Mimi checkpoint for speech answers (default: tokenizer-*.safetensors beside an LFM2-Audio model)")
    .addOption(new Option("--weight-format <format>", "how linear weights are stored (default f32)").choices(WEIGHT_FORMATS))
    .option("--threads <n>", "ONNX Runtime intra-op threads")
    .option("--cache-dir <dir>", "where built graphs are cached (default: $LFMKIT_CACHE_DIR or ~/.cache/lfmkit)");
}

function addFolderJobOptions(command: Command): Command {
  return command
    .option("--max-tokens <n>", "most tokens per answer (default: the model's)")
    .option("--temperature <t>", "0 = greedy (default: the model's generation_config.json, else 0.3)");
}

function addRunOptions(command: Command): Command {
  return addModelOptions(command)
    .option("--concurrency <n>", "jobs run at once (local runs; default 1)")
    .option("--json", "print the summary as one JSON line")
    .option("--queue <url>", "enqueue the jobs on this Redis for `lfm worker`s and collect their results: redis://HOST:PORT")
    .option("--queue-name <name>", "queue name (with --queue)", DEFAULT_QUEUE_NAME)
    .option("--attempts <n>", "tries per job before it is an error record (with --queue; default 3)")
    .option("--redis-retry <seconds>", "how long a lost Redis connection is retried before giving up (with --queue)", "30")
    .option("--verbose", "print stack traces on errors");
}

async function batch(args: RunArgs, source: () => JobSource | Promise<JobSource>): Promise<void> {
  checkRunMode(args);
  const summary = await runBatch(await source(), args, (line) => process.stderr.write(`${commandName}: ${line}\n`));
  process.stdout.write(`${args.json ? JSON.stringify(summary) : formatSummary(summary)}\n`);
}

function parse<T extends z.ZodType<{ verbose: boolean }>>(schema: T, options: Record<string, unknown>): z.output<T> {
  verbose = Boolean(options.verbose);
  const parsed = schema.safeParse(options);
  if (!parsed.success) throw new Error(describeIssues(parsed.error));
  return parsed.data;
}

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`${commandName}: ${verbose && error instanceof Error ? error.stack : message.split("\n")[0]}\n`);
  // Queue connections and a model may still be open: nothing is lost by ending now, since every
  // record is on disk and a queued job left unfinished is retried.
  process.exit(1);
});
