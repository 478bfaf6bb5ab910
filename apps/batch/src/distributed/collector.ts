/**
 * Collects the results of a submitter's jobs into the output file.
 *
 * A job's completion event carries the worker's return value (the record, the fingerprint of the job
 * that ran and its attempt), so a finished job is usually collected without a round trip to Redis.
 * But a stream read is at-most-once for this process: events are missed while the submitter is down
 * or reconnecting, and the stream is trimmed. So the job itself (its state and return value in Redis)
 * stays the source of truth: a sweep over all pending jobs collects whatever finished without its
 * event reaching us — once when enqueueing is done (a resubmission finds its finished jobs there),
 * then whenever a sweep interval passes with no record arriving.
 */
import type { Job, Queue } from "bullmq";
import type { Progress } from "../progress.js";
import { errorRecord, type ResultRecord } from "../result-record.js";
import type { ResultsFile } from "../results-file.js";
import { queuedResultSchema, type QueuedJob, type QueuedResult } from "./queued-job.js";

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
  private written = 0;
  private wake: () => void = () => {};

  constructor(
    private readonly queue: Queue<QueuedJob, QueuedResult>,
    private readonly results: ResultsFile,
    private readonly progress: Progress,
  ) {}

  expect(queueJobId: string, pending: Pending): void {
    this.pending.set(queueJobId, pending);
  }

  /** Takes the result a completion event carried; a return value it cannot read is looked up instead. */
  completed(queueJobId: string, returnValue: unknown): void {
    const pending = this.pending.get(queueJobId);
    if (!pending) return;
    const result = queuedResultSchema.safeParse(returnValue);
    if (!result.success) return void this.collect(queueJobId).catch(() => {}); // a failed look is retried by the sweep
    this.write(queueJobId, recordOf(result.data, pending), result.data.attempt);
  }

  /** Collects the job if it has finished; a no-op for a job that is not pending or not finished. */
  async collect(queueJobId: string): Promise<void> {
    const pending = this.pending.get(queueJobId);
    if (!pending || this.collecting.has(queueJobId)) return;
    this.collecting.add(queueJobId);
    try {
      const job = await this.queue.getJob(queueJobId);
      const record = job && (await finalRecord(job, pending));
      if (record) this.write(queueJobId, record, job.attemptsStarted);
    } finally {
      this.collecting.delete(queueJobId);
    }
  }

  /** Resolves when every expected job has its record. */
  async finished(): Promise<void> {
    let sweep = true;
    while (this.pending.size > 0) {
      if (sweep) await this.sweep();
      if (this.pending.size === 0) break;
      const writtenBefore = this.written;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, SWEEP_INTERVAL_MS);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      sweep = this.written === writtenBefore;
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
    if (state === "unknown" && pending) this.write(queueJobId, errorRecord(pending.recordId, "job_failed", "the job is no longer in the queue (removed from Redis?)"), 1);
  }

  private write(queueJobId: string, record: ResultRecord, attempts: number): void {
    if (!this.pending.delete(queueJobId)) return;
    this.results.append(record);
    this.progress.record(record);
    this.progress.addRetries(Math.max(0, attempts - 1));
    this.written++;
    if (this.pending.size === 0) this.wake();
  }
}

/** The record of a finished job; undefined while it is waiting, running or about to be retried. */
async function finalRecord(job: Job<QueuedJob, QueuedResult>, pending: Pending): Promise<ResultRecord | undefined> {
  const state = await job.getState();
  if (state !== "completed" && state !== "failed") return undefined;
  if (job.data.fingerprint !== pending.fingerprint) return idConflict(pending);
  if (state === "failed") return errorRecord(pending.recordId, "job_failed", `failed after ${job.attemptsStarted} attempts: ${job.failedReason}`);
  const result = queuedResultSchema.safeParse(job.returnvalue);
  return result.success ? recordOf(result.data, pending) : noRecord(pending);
}

/** A worker's result for a pending record: its record, unless the job that ran was not this batch's. */
function recordOf(result: QueuedResult, pending: Pending): ResultRecord {
  if (result.fingerprint !== pending.fingerprint) return idConflict(pending);
  return result.record.id === pending.recordId ? result.record : noRecord(pending);
}

function idConflict({ recordId }: Pending): ResultRecord {
  return errorRecord(recordId, "id_conflict", `the queue already holds a different job with this id (another batch's?): use another --queue-name`);
}

function noRecord({ recordId }: Pending): ResultRecord {
  return errorRecord(recordId, "job_failed", "the worker returned no result record for this job");
}
