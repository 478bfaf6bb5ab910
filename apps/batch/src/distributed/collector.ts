/**
 * Collects the results of a submitter's jobs into the output file.
 *
 * QueueEvents says promptly when a job finished, but a stream read is at-most-once for this process:
 * events are missed while the submitter is down or reconnecting, and the stream is trimmed. So the
 * job itself (its state and return value in Redis) is the source of truth: an event only says which
 * job to look at, and a sweep over all pending jobs — when enqueueing is done, then every few
 * seconds — collects whatever finished without an event reaching us.
 */
import type { Job, Queue } from "bullmq";
import type { Progress } from "../progress.js";
import { errorRecord, resultRecordSchema, type ResultRecord } from "../result-record.js";
import type { ResultsFile } from "../results-file.js";
import type { QueuedJob } from "./queued-job.js";

const SWEEP_INTERVAL_MS = 5000;
const SWEEP_CHUNK = 500;

interface Pending {
  recordId: string;
  fingerprint: string;
}

export class Collector {
  /** Queue job id → the record it stands for, for jobs enqueued and not yet collected. */
  private readonly pending = new Map<string, Pending>();
  private readonly collecting = new Set<string>();
  private wake: () => void = () => {};

  constructor(
    private readonly queue: Queue<QueuedJob, ResultRecord>,
    private readonly results: ResultsFile,
    private readonly progress: Progress,
  ) {}

  expect(queueJobId: string, pending: Pending): void {
    this.pending.set(queueJobId, pending);
  }

  /** Collects the job if it has finished; a no-op for a job that is not pending or not finished. */
  async collect(queueJobId: string): Promise<void> {
    const pending = this.pending.get(queueJobId);
    if (!pending || this.collecting.has(queueJobId)) return;
    this.collecting.add(queueJobId);
    try {
      const job = await this.queue.getJob(queueJobId);
      const record = job && (await finalRecord(job, pending));
      if (!record) return;
      this.write(queueJobId, record);
      this.progress.addRetries(Math.max(0, job.attemptsStarted - 1));
    } finally {
      this.collecting.delete(queueJobId);
    }
  }

  /** Resolves when every expected job has its record. */
  async finished(): Promise<void> {
    while (this.pending.size > 0) {
      await this.sweep();
      if (this.pending.size === 0) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SWEEP_INTERVAL_MS);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private async sweep(): Promise<void> {
    const ids = [...this.pending.keys()];
    for (let start = 0; start < ids.length; start += SWEEP_CHUNK) {
      const chunk = ids.slice(start, start + SWEEP_CHUNK);
      const states = await Promise.all(chunk.map((id) => this.queue.getJobState(id)));
      await Promise.all(chunk.map((id, i) => this.settle(id, states[i])));
    }
  }

  private async settle(queueJobId: string, state: string): Promise<void> {
    if (state === "completed" || state === "failed") return this.collect(queueJobId);
    const pending = this.pending.get(queueJobId);
    if (state === "unknown" && pending) this.write(queueJobId, errorRecord(pending.recordId, "job_failed", "the job is no longer in the queue (removed from Redis?)"));
  }

  private write(queueJobId: string, record: ResultRecord): void {
    if (!this.pending.delete(queueJobId)) return;
    this.results.append(record);
    this.progress.record(record);
    if (this.pending.size === 0) this.wake();
  }
}

/** The record of a finished job; undefined while it is waiting, running or about to be retried. */
async function finalRecord(job: Job<QueuedJob, ResultRecord>, { recordId, fingerprint }: Pending): Promise<ResultRecord | undefined> {
  const state = await job.getState();
  if (state !== "completed" && state !== "failed") return undefined;
  if (job.data.fingerprint !== fingerprint) {
    return errorRecord(recordId, "id_conflict", `the queue already holds a different job with this id (another batch's?): use another --queue-name`);
  }
  if (state === "failed") return errorRecord(recordId, "job_failed", `failed after ${job.attemptsStarted} attempts: ${job.failedReason}`);
  const parsed = resultRecordSchema.safeParse(job.returnvalue);
  if (!parsed.success || parsed.data.id !== recordId) return errorRecord(recordId, "job_failed", "the worker returned no result record for this job");
  return parsed.data;
}
