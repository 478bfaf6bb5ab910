/** What a job looks like in the queue: its BullMQ id, its data, and the options that make it retried. */
import { createHash } from "node:crypto";
import type { JobsOptions } from "bullmq";
import { z } from "zod";
import { chatJobSchema, type ChatJob } from "../job-contract.js";
import { resultRecordSchema } from "../result-record.js";

export const DEFAULT_QUEUE_NAME = "lfmkit";
export const DEFAULT_ATTEMPTS = 3;
/** Finished jobs stay in Redis this long, so a submitter that was down can still collect them. */
const KEEP_FINISHED_SECONDS = 7 * 24 * 3600;

export const queuedJobSchema = z.object({
  job: chatJobSchema,
  /** The job's content hash: tells a finished job of this batch from another batch's job with the same id. */
  fingerprint: z.string(),
});

export type QueuedJob = z.output<typeof queuedJobSchema>;

/**
 * What a worker returns for a job: the result record, with what the submitter must check before
 * taking it (the fingerprint of the job that ran) and report (the attempt it took), so the
 * completion event alone is enough to collect it.
 */
export const queuedResultSchema = z.object({
  fingerprint: z.string(),
  attempt: z.number().int().positive(),
  record: resultRecordSchema,
});

export type QueuedResult = z.output<typeof queuedResultSchema>;

/**
 * The BullMQ job id of a record id, one to one. BullMQ refuses custom ids that are integers ("42")
 * or contain ":", which record ids may well be; the prefix and percent-encoding avoid both.
 */
export function queueJobId(recordId: string): string {
  return `job-${encodeURIComponent(recordId)}`;
}

export function queuedJob(job: ChatJob): QueuedJob {
  return { job, fingerprint: createHash("sha256").update(JSON.stringify(job)).digest("hex") };
}

export function jobOptions(recordId: string, attempts: number): JobsOptions {
  return {
    jobId: queueJobId(recordId),
    attempts,
    backoff: { type: "exponential", delay: 1000 },
    removeOnComplete: { age: KEEP_FINISHED_SECONDS },
    removeOnFail: { age: KEEP_FINISHED_SECONDS },
  };
}
