/** One output line per job: the answer, or an error — never both. */
import { toolCallSchema } from "@lfmkit/pipeline";
import { z } from "zod";

/** Why a job has no answer. */
export const ERROR_CODES = [
  /** The input line is not a job of the contract (not JSON, a missing field, an unknown key…). */
  "malformed_line",
  /** The line's id was already used by an earlier line. */
  "duplicate_id",
  /** The model cannot do what the job asks (speech out, audio in, images to a text model). */
  "unsupported",
  /** The model refused the job's input (a missing or non-image file, a prompt too long…). */
  "invalid_input",
  /** A speech job whose answer held no audio (the model answered in text only). */
  "no_speech",
  /** Something unexpected failed while running the job (local runs). */
  "internal_error",
  /** Distributed runs: the job failed every attempt (worker errors, or workers killed on it too often). */
  "job_failed",
  /** Distributed runs: the queue already holds a different job under this id. */
  "id_conflict",
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const usageSchema = z.object({
  promptTokens: z.number(),
  cachedPromptTokens: z.number(),
  completionTokens: z.number(),
  totalTokens: z.number(),
});

const timingsSchema = z.object({
  prefillMs: z.number(),
  decodeMs: z.number(),
  timeToFirstTokenMs: z.number(),
  prefillTokensPerSecond: z.number(),
  decodeTokensPerSecond: z.number(),
});

export const answerRecordSchema = z.object({
  id: z.string(),
  text: z.string(),
  tool_calls: z.array(toolCallSchema),
  /** The spoken answer's WAV file, for `response: "speech"`; null for text answers. */
  audio: z.string().nullable(),
  finish_reason: z.enum(["stop", "length", "tool_calls"]),
  usage: usageSchema,
  timings: timingsSchema,
});

export const errorRecordSchema = z.object({
  id: z.string(),
  error: z.object({ message: z.string(), code: z.enum(ERROR_CODES) }),
});

export const resultRecordSchema = z.union([answerRecordSchema, errorRecordSchema]);

export type AnswerRecord = z.infer<typeof answerRecordSchema>;
export type ErrorRecord = z.infer<typeof errorRecordSchema>;
export type ResultRecord = z.infer<typeof resultRecordSchema>;

export function errorRecord(id: string, code: ErrorCode, message: string): ErrorRecord {
  return { id, error: { message, code } };
}

/** Tells error records from answers, or from the jobs they stand in for. */
export function isErrorRecord<T extends { id: string }>(value: T | ErrorRecord): value is ErrorRecord {
  return "error" in value;
}
