/** The commands' options, validated once at the boundary. */
import { basename, resolve } from "node:path";
import { LfmkitError, weightFormatSchema } from "@lfmkit/core";
import { z } from "zod";
import { DEFAULT_QUEUE_NAME } from "./distributed/queued-job.js";

const count = z.coerce.number().int().positive();
const required = z.string({ error: "required" }).min(1, "required");

const modelOptions = {
  codec: z.string().min(1).optional(),
  weightFormat: weightFormatSchema.optional(),
  threads: count.optional(),
  cacheDir: z.string().min(1).optional(),
};

const redisOptions = {
  queueName: z.string().min(1).default(DEFAULT_QUEUE_NAME),
  redisRetry: z.coerce.number().positive().default(30),
};

const runOptions = z.object({
  output: z.string().min(1).optional(),
  model: z.string().min(1).optional(),
  ...modelOptions,
  concurrency: count.optional(),
  json: z.boolean().default(false),
  queue: z.string().min(1).optional(),
  attempts: count.optional(),
  ...redisOptions,
  verbose: z.boolean().default(false),
});

export const batchArgsSchema = runOptions.extend({ input: required, output: required });
const folderJobOptions = {
  maxTokens: count.optional(),
  temperature: z.coerce.number().min(0).optional(),
};

export const captionArgsSchema = runOptions.extend({ prompt: z.string().min(1), ...folderJobOptions });
export const transcribeArgsSchema = runOptions.extend(folderJobOptions);

export const workerArgsSchema = z.object({
  queue: required,
  model: required,
  ...modelOptions,
  concurrency: count.default(1),
  ...redisOptions,
  lockDuration: count.default(30_000),
  stalledInterval: count.default(30_000),
  maxStalled: z.coerce.number().int().min(0).default(2),
  audioDir: z.string().min(1).default("lfm-batch-audio"),
  verbose: z.boolean().default(false),
});

export type RunArgs = z.output<typeof runOptions> & { output: string };
export type WorkerArgs = z.output<typeof workerArgsSchema>;

/** A local run needs a model; a queued run leaves the model and its settings to the workers. */
export function checkRunMode(args: z.output<typeof runOptions>): void {
  if (args.queue === undefined) {
    if (args.model === undefined) throw new LfmkitError("give --model to run the jobs here, or --queue to have workers run them");
    if (args.attempts !== undefined) throw new LfmkitError("--attempts applies to runs with --queue");
    return;
  }
  const local = { model: args.model, codec: args.codec, "weight-format": args.weightFormat, threads: args.threads, "cache-dir": args.cacheDir, concurrency: args.concurrency };
  const given = Object.entries(local).find(([, value]) => value !== undefined);
  if (given) throw new LfmkitError(`--${given[0]} does not apply with --queue: each worker loads its model (lfm worker --model … --concurrency …)`);
}

/** Where a folder shortcut writes when no --output is given: `<folder name>.<kind>.jsonl` here. */
export function defaultOutput(dir: string, kind: "captions" | "transcripts"): string {
  return `${basename(resolve(dir))}.${kind}.jsonl`;
}

/** Zod issues as one line naming the options: "--input: required; --concurrency: …". */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `--${String(issue.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${issue.message}`).join("; ");
}
