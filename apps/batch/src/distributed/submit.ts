/** `batch --queue URL`: enqueues the jobs on BullMQ and writes the workers' results as they finish. */
import { Queue, QueueEvents } from "bullmq";
import type { JobSource } from "../job-source.js";
import { Progress, type Summary } from "../progress.js";
import { isErrorRecord } from "../result-record.js";
import type { ResultsFile } from "../results-file.js";
import { Collector } from "./collector.js";
import { jobOptions, queueJobId, queuedJob, type QueuedJob, type QueuedResult } from "./queued-job.js";
import type { RedisLink } from "./redis-link.js";

export interface SubmitOptions {
  queueName: string;
  attempts: number;
}

const ENQUEUE_CHUNK = 200;

export async function submitAndCollect(source: JobSource, results: ResultsFile, link: RedisLink, options: SubmitOptions): Promise<Summary> {
  const queue = new Queue<QueuedJob, QueuedResult>(options.queueName, { connection: link.connection });
  const events = new QueueEvents(options.queueName, { connection: link.connection });
  link.watch(queue);
  link.watch(events);
  await link.race(Promise.all([queue.waitUntilReady(), events.waitUntilReady()]));

  const progress = new Progress(source.total, results.path);
  const collector = new Collector(queue, results, progress);
  events.on("completed", ({ jobId, returnvalue }) => collector.completed(jobId, returnvalue));
  events.on("failed", ({ jobId }) => void collector.collect(jobId).catch(() => {})); // a failed look is retried by the sweep

  await link.race(enqueue(source, results, progress, queue, collector, options.attempts));
  await link.race(collector.finished());
  const summary = progress.finish();
  await Promise.all([events.close(), queue.close()]);
  return summary;
}

/**
 * Adds every job whose id has no record yet. Adding a job id that the queue already holds is a no-op
 * in BullMQ, so submitting the same input again (or after a crash) never runs a job twice: it only
 * collects what is there.
 */
async function enqueue(source: JobSource, results: ResultsFile, progress: Progress, queue: Queue<QueuedJob, QueuedResult>, collector: Collector, attempts: number): Promise<void> {
  let chunk: QueuedJob[] = [];
  const flush = async () => {
    for (const { job, fingerprint } of chunk) collector.expect(queueJobId(job.id), { recordId: job.id, fingerprint });
    await queue.addBulk(chunk.map((data) => ({ name: data.job.id, data, opts: jobOptions(data.job.id, attempts) })));
    chunk = [];
  };
  for await (const entry of source.entries()) {
    if (results.doneIds.has(entry.id)) progress.skip();
    else if (isErrorRecord(entry)) {
      results.append(entry);
      progress.record(entry);
    } else {
      chunk.push(queuedJob(entry));
      if (chunk.length === ENQUEUE_CHUNK) await flush();
    }
  }
  if (chunk.length > 0) await flush();
}
