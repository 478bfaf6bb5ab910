/** OpenAI request bodies to the pipeline's messages and options. */
import { isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChatOptions, Message, MessagePart } from "@lfmkit/pipeline";
import { ApiError } from "./api-error.js";
import type { ChatCompletionRequest } from "./openai-schema.js";

export interface MediaPolicy {
  /** `file://` image URLs are read only under this folder; unset: never. */
  readonly mediaRoot?: string;
}

type OpenAiMessage = ChatCompletionRequest["messages"][number];
type OpenAiPart = Exclude<OpenAiMessage["content"], string | null | undefined>[number];

export function toMessages(messages: readonly OpenAiMessage[], policy: MediaPolicy): Message[] {
  return messages.map((m, index) => {
    const role = m.role === "developer" ? "system" : m.role;
    const content = typeof m.content === "string" || m.content == null ? (m.content ?? "") : m.content.map((part, p) => toPart(part, `messages.${index}.content.${p}`, policy));
    const toolCalls = m.tool_calls?.map((call, c) => ({ name: call.function.name, arguments: toolArguments(call.function.arguments, `messages.${index}.tool_calls.${c}.function.arguments`) }));
    return { role, content, ...(toolCalls && { toolCalls }) };
  });
}

export function toChatOptions(body: ChatCompletionRequest, signal: AbortSignal): ChatOptions {
  const stop = typeof body.stop === "string" ? [body.stop] : (body.stop ?? undefined);
  return {
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? undefined,
    temperature: body.temperature ?? undefined,
    topP: body.top_p ?? undefined,
    topK: body.top_k ?? undefined,
    minP: body.min_p ?? undefined,
    repetitionPenalty: body.repetition_penalty ?? undefined,
    seed: body.seed ?? undefined,
    stop,
    tools: body.tool_choice === "none" ? undefined : body.tools?.map((t) => t.function),
    signal,
  };
}

function toPart(part: OpenAiPart, param: string, policy: MediaPolicy): MessagePart {
  switch (part.type) {
    case "text":
      return part;
    case "image_url":
      return { type: "image", image: imageSource(part.image_url.url, `${param}.image_url.url`, policy) };
    case "input_audio": {
      if (part.input_audio.format !== "wav") throw new ApiError(400, `input_audio format "${part.input_audio.format}" is not supported (wav)`, "invalid_request_error", `${param}.input_audio.format`);
      const bytes = Buffer.from(part.input_audio.data, "base64");
      return { type: "audio", audio: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    }
  }
}

function imageSource(url: string, param: string, policy: MediaPolicy): string {
  if (url.startsWith("data:")) return url;
  if (url.startsWith("file:")) {
    const path = fileURLToPath(url);
    const root = policy.mediaRoot ? resolve(policy.mediaRoot) : undefined;
    const inside = root !== undefined && !relative(root, path).startsWith("..") && !isAbsolute(relative(root, path));
    if (!inside) throw new ApiError(400, "file URLs are read only under the server's --media-root folder", "invalid_request_error", param);
    return path;
  }
  throw new ApiError(400, "only data: URLs (and file: URLs under --media-root) are read; the server fetches nothing from the network", "invalid_request_error", param);
}

function toolArguments(json: string, param: string): Record<string, unknown> {
  try {
    const parsed = JSON.parse(json);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed;
  } catch {
    // reported below
  }
  throw new ApiError(400, "tool call arguments must be a JSON object", "invalid_request_error", param);
}
