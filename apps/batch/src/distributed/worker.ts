/**
 * `worker --queue URL --model DIR`: takes jobs from the queue, runs them on the model, and posts each
 * result record as the job's return value. Bad input is an error record (a completed job); anything
 * else thrown fails the attempt, and BullMQ retries it with backoff. A worker killed mid-job stops
 * renewing its lock: another worker's stalled check puts the job back in the queue.
 */
import { hostname } from "node:os";
import type { ChatModel } from "@lfmkit/pipeline";
import { UnrecoverableError, Worker, type Job } from "bullmq";
import { runJob } from "../run-job.js";
import { isErrorRecord } from "../result-record.js";
import { queuedJobSchema, type QueuedResult } from "./queued-job.js";
import type { RedisLink } from "./redis-link.js";

export interface WorkerSettings {
  queueName: string;
  concurrency: number;
  /** How long a job's lock lasts without renewal: how soon a killed worker's job can be taken again. */
  lockDurationMs: number;
  /** How often this worker looks for jobs whose worker died. */
  stalledIntervalMs: number;
  /** Times a job may lose its worker before it fails for good. */
  maxStalled: number;
  /** Where speech answers are written (on this worker's machine). */
  audioDir: string;
}

export async function runWorker(loading: Promise<ChatModel>, link: RedisLink, settings: WorkerSettings, log: (line: string) => void): Promise<void> {
  const worker = new Worker<unknown, QueuedResult>(settings.queueName, async (job) => processJob(await loading, job, settings.audioDir, log), {
    connection: link.connection,
    name: `${hostname()}:${process.pid}`,
    autorun: false,
    concurrency: settings.concurrency,
    lockDuration: settings.lockDurationMs,
    stalledInterval: settings.stalledIntervalMs,
    maxStalledCount: settings.maxStalled,
  });
  link.watch(worker);
  worker.on("failed", (job, error) => log(`failed ${job?.name ?? "a job"} (attempt ${job?.attemptsStarted ?? "?"}): ${error.message.split("\n")[0]}`));
  const [, model] = await link.race(Promise.all([worker.waitUntilReady(), loading]));
  log(`ready: queue "${settings.queueName}" on ${link.shownUrl}, model ${model.path}, concurrency ${settings.concurrency}`);

  // The first signal lets the jobs in hand finish; a second one ends the process as usual.
  const stop = () => void worker.close();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await link.race(worker.run());
  } finally {
    await model.dispose();
  }
}

async function processJob(model: ChatModel, job: Job<unknown, QueuedResult>, audioDir: string, log: (line: string) => void): Promise<QueuedResult> {
  const parsed = queuedJobSchema.safeParse(job.data);
  if (!parsed.success) throw new UnrecoverableError("not an lfmkit batch job");
  const { id } = parsed.data.job;
  log(`started ${id}`);
  const record = await runJob(model, parsed.data.job, audioDir);
  log(isErrorRecord(record) ? `finished ${id} (error: ${record.error.code})` : `finished ${id}`);
  return { fingerprint: parsed.data.fingerprint, attempt: job.attemptsStarted, record };
}
