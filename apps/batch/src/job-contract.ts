/**
 * The job contract: one JSON object per input line, validated here and turned into a `ChatJob` — the
 * chat API's messages with every media path absolute, plus the job's options — which is what runs
 * locally or travels to workers.
 */
import { isAbsolute, resolve } from "node:path";
import { messageSchema, type Message, type MessagePart } from "@lfmkit/pipeline";
import { z } from "zod";
import { errorRecord, type ErrorRecord } from "./result-record.js";

const paths = z.union([z.string().min(1), z.array(z.string().min(1))]);

export const jobLineSchema = z
  .strictObject({
    id: z.string().min(1),
    messages: z.array(messageSchema).min(1).optional(),
    prompt: z.string().optional(),
    system: z.string().optional(),
    images: paths.optional(),
    audio: paths.optional(),
    max_tokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).optional(),
    seed: z.number().int().optional(),
    tools: z.array(z.record(z.string(), z.unknown())).optional(),
    response: z.enum(["text", "speech"]).default("text"),
  })
  .refine((j) => (j.messages === undefined) !== (j.prompt === undefined), { message: "give exactly one of messages or prompt" })
  .refine((j) => j.prompt !== undefined || (j.system ?? j.images ?? j.audio) === undefined, {
    message: "system, images and audio go with prompt (with messages, put them in the messages)",
  });

export type JobLine = z.output<typeof jobLineSchema>;

/** A job ready to run: JSON-serializable, media paths absolute. */
export const chatJobSchema = z.object({
  id: z.string().min(1),
  messages: z.array(messageSchema).min(1),
  options: z.object({
    maxTokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).optional(),
    seed: z.number().int().optional(),
    tools: z.array(z.record(z.string(), z.unknown())).optional(),
  }),
  response: z.enum(["text", "speech"]),
});

export type ChatJob = z.output<typeof chatJobSchema>;

/** A job of the contract from a folder shortcut or a parsed line: relative media paths are taken from `baseDir`. */
export function toChatJob(line: JobLine, baseDir: string): ChatJob {
  const messages = line.messages ?? promptMessages(line);
  return {
    id: line.id,
    messages: messages.map((message) => resolveMediaPaths(message, baseDir)),
    options: { maxTokens: line.max_tokens, temperature: line.temperature, seed: line.seed, tools: line.tools },
    response: line.response,
  };
}

/** An input line as a job, or the error record that stands for it (`line-N` when no id can be read). */
export function parseJobLine(text: string, lineNumber: number, baseDir: string): ChatJob | ErrorRecord {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return errorRecord(lineIdFor(lineNumber), "malformed_line", `line ${lineNumber}: not valid JSON (${(error as Error).message})`);
  }
  const parsed = jobLineSchema.safeParse(value);
  if (parsed.success) return toChatJob(parsed.data, baseDir);
  const id = readableId(value) ?? lineIdFor(lineNumber);
  return errorRecord(id, "malformed_line", `line ${lineNumber}: ${describeIssues(parsed.error)}`);
}

export function lineIdFor(lineNumber: number): string {
  return `line-${lineNumber}`;
}

function promptMessages(line: JobLine): Message[] {
  const media: MessagePart[] = [
    ...asList(line.images).map((image) => ({ type: "image" as const, image })),
    ...asList(line.audio).map((audio) => ({ type: "audio" as const, audio })),
  ];
  const user: Message = { role: "user", content: media.length > 0 ? [...media, { type: "text", text: line.prompt! }] : line.prompt! };
  return line.system === undefined ? [user] : [{ role: "system", content: line.system }, user];
}

function resolveMediaPaths(message: Message, baseDir: string): Message {
  if (typeof message.content === "string") return message;
  const content = message.content.map((part): MessagePart => {
    if (part.type === "image" && typeof part.image === "string") return { ...part, image: resolvePath(part.image, baseDir) };
    if (part.type === "audio" && typeof part.audio === "string") return { ...part, audio: resolvePath(part.audio, baseDir) };
    return part;
  });
  return { ...message, content };
}

/** `data:` URLs stay as they are; file paths become absolute. */
function resolvePath(path: string, baseDir: string): string {
  return path.startsWith("data:") || isAbsolute(path) ? path : resolve(baseDir, path);
}

function asList(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : typeof value === "string" ? [value] : value;
}

function readableId(value: unknown): string | undefined {
  const id = value && typeof value === "object" ? (value as { id?: unknown }).id : undefined;
  return typeof id === "string" && id.length > 0 ? id : undefined;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message)).join("; ");
}
