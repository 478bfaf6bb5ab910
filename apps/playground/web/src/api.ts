/** The server's OpenAI-compatible API, as the page uses it: model list, streamed chat completions, errors. */
import { parseSse } from "./sse.js";

export interface Capabilities {
  image_input: boolean;
  audio_input: boolean;
  audio_output: boolean;
}

export interface ModelInfo {
  id: string;
  owned_by?: string;
  capabilities: Capabilities;
}

export type ContentPart =
  | { type: "text"; text: string }
  | { type: "image_url"; image_url: { url: string } }
  | { type: "input_audio"; input_audio: { data: string; format: "wav" } };

export interface RequestMessage {
  role: "system" | "user" | "assistant";
  content: string | ContentPart[];
}

export interface Sampling {
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  repetition_penalty?: number;
  max_tokens?: number;
  seed?: number;
}

export interface ChatRequest extends Sampling {
  model: string;
  messages: RequestMessage[];
  modalities?: ("text" | "audio")[];
  audio?: { format: "wav" | "pcm16" };
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** llama-server's timings, plus lfmkit's time to first token. */
export interface Timings {
  prompt_n?: number;
  prompt_ms?: number;
  prompt_per_second?: number;
  predicted_n?: number;
  predicted_ms?: number;
  predicted_per_second?: number;
  time_to_first_token_ms?: number;
}

export interface ChatChunk {
  choices?: { index: number; delta?: { content?: string | null; audio?: { data?: string; transcript?: string } }; finish_reason?: string | null }[];
  usage?: Usage | null;
  timings?: Timings;
  time_to_first_token_ms?: number;
}

/** An error the server answered with (`{ error: { message, type, param, code } }`), or a failed connection. */
export class ApiError extends Error {
  constructor(
    message: string,
    /** The HTTP status; 0 for an error reported inside a stream that had started. */
    readonly status: number,
    readonly type?: string,
    readonly param?: string | null,
    readonly code?: string | null,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

let apiKey = "";

/** The key sent as `Authorization: Bearer` (servers started with an API key require it on /v1). */
export function setApiKey(key: string): void {
  apiKey = key.trim();
}

function headers(extra: Record<string, string> = {}): Record<string, string> {
  return apiKey ? { ...extra, authorization: `Bearer ${apiKey}` } : extra;
}

async function errorFrom(response: Response): Promise<ApiError> {
  const body = await response.text().catch(() => "");
  try {
    const error = (JSON.parse(body) as { error?: { message?: string; type?: string; param?: string | null; code?: string | null } }).error;
    if (error?.message) return new ApiError(error.message, response.status, error.type, error.param, error.code);
  } catch {
    // not JSON: fall through to the status line
  }
  const detail = body.trim().slice(0, 300);
  return new ApiError(`${response.status} ${response.statusText}${detail ? `: ${detail}` : ""}`, response.status);
}

export async function listModels(signal?: AbortSignal): Promise<ModelInfo[]> {
  const response = await fetch("v1/models", { signal, headers: headers() });
  if (!response.ok) throw await errorFrom(response);
  const body = (await response.json()) as { data?: Partial<ModelInfo>[] };
  return (body.data ?? []).map((m) => ({
    id: String(m.id),
    owned_by: m.owned_by,
    capabilities: { image_input: !!m.capabilities?.image_input, audio_input: !!m.capabilities?.audio_input, audio_output: !!m.capabilities?.audio_output },
  }));
}

/** Streams a chat completion, calling `onChunk` for each `chat.completion.chunk`; resolves at `[DONE]` or the end of the stream. */
export async function streamChat(request: ChatRequest, onChunk: (chunk: ChatChunk) => void, signal: AbortSignal): Promise<void> {
  const response = await fetch("v1/chat/completions", {
    method: "POST",
    headers: headers({ "content-type": "application/json", accept: "text/event-stream" }),
    body: JSON.stringify({ ...request, stream: true, stream_options: { include_usage: true } }),
    signal,
  });
  if (!response.ok) throw await errorFrom(response);
  if (!response.body) throw new ApiError("the server sent no response body", response.status);
  for await (const data of parseSse(response.body)) {
    if (data === "[DONE]") return;
    let chunk: ChatChunk & { error?: { message?: string; type?: string; param?: string | null; code?: string | null } };
    try {
      chunk = JSON.parse(data);
    } catch {
      throw new ApiError(`the server sent an unreadable event: ${data.slice(0, 200)}`, response.status);
    }
    // An error after the stream started comes as an event of its own.
    if (chunk.error) throw new ApiError(chunk.error.message ?? "generation failed", 0, chunk.error.type, chunk.error.param, chunk.error.code);
    onChunk(chunk);
  }
  if (!signal.aborted) throw new ApiError("the server closed the stream before the answer was complete", 0);
}
