/** POST /v1/chat/completions: OpenAI's chat completions, streamed as server-sent events or answered whole. */
import { randomUUID } from "node:crypto";
import type { ChatEvent, ChatModel } from "@lfmkit/pipeline";
import { SpeechBuffer, pcm16 } from "./speech.js";
import type { FastifyReply, FastifyRequest } from "fastify";
import { ApiError } from "./api-error.js";
import type { Metrics } from "./metrics.js";
import { chatCompletionRequestSchema, type ChatCompletionRequest } from "./openai-schema.js";
import { toChatOptions, toMessages, type MediaPolicy } from "./to-pipeline.js";

type Done = Extract<ChatEvent, { type: "done" }>;

export interface ChatRoute {
  readonly model: ChatModel;
  readonly modelId: string;
  readonly metrics: Metrics;
  readonly media: MediaPolicy;
}

export async function chatCompletions(route: ChatRoute, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const parsed = chatCompletionRequestSchema.safeParse(request.body);
  if (!parsed.success) throw ApiError.invalid(parsed.error);
  const body = parsed.data;
  if (body.model !== route.modelId) throw new ApiError(404, `the model "${body.model}" does not exist; this server runs "${route.modelId}"`, "invalid_request_error", "model", "model_not_found");
  const speech = body.modalities?.includes("audio") ?? false;
  if (speech && route.model.architecture !== "audio") throw new ApiError(400, `the model "${route.modelId}" cannot answer with audio`, "invalid_request_error", "modalities");
  if (speech && !body.audio) throw new ApiError(400, 'audio output needs "audio": {"format": "wav" | "pcm16"}', "invalid_request_error", "audio");

  const controller = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) controller.abort(new Error("the client went away"));
  };
  reply.raw.on("close", onClose);
  const started = performance.now();
  const events = route.model.chat(toMessages(body.messages, route.media), { ...toChatOptions(body, controller.signal), speech });
  const iterator = events[Symbol.asyncIterator]();
  // The first event is awaited before any header is sent, so bad input is still answered with a 4xx.
  let first: IteratorResult<ChatEvent>;
  try {
    first = await iterator.next();
  } catch (error) {
    reply.raw.off("close", onClose);
    throw error;
  }
  route.metrics.timeToFirstToken(performance.now() - started);
  const id = `chatcmpl-${randomUUID()}`;
  const created = Math.floor(Date.now() / 1000);
  const base = { id, created, model: route.modelId, system_fingerprint: "lfmkit" };
  try {
    if (body.stream) await stream(reply, base, body, first, iterator, route.metrics);
    else await respond(reply, base, body, first, iterator, route.metrics);
  } catch (error) {
    if (controller.signal.aborted) {
      route.metrics.cancellations++;
      if (!reply.sent) reply.hijack();
      return;
    }
    throw error;
  } finally {
    reply.raw.off("close", onClose);
  }
}

type Base = { id: string; created: number; model: string; system_fingerprint: string };

async function respond(reply: FastifyReply, base: Base, body: ChatCompletionRequest, first: IteratorResult<ChatEvent>, rest: AsyncIterator<ChatEvent>, metrics: Metrics): Promise<void> {
  const speech = new SpeechBuffer();
  let result = first;
  for (; !result.done && result.value.type !== "done"; result = await rest.next()) {
    if (result.value.type === "audio") speech.add(result.value);
  }
  if (result.done) throw new ApiError(500, "generation ended without a result");
  const done = result.value as Done;
  count(metrics, done);
  const message = body.audio ? { role: "assistant", content: null, refusal: null, audio: speech.message(base.id, done.text, body.audio.format) } : assistantMessage(done);
  await reply.send({
    ...base,
    object: "chat.completion",
    choices: [{ index: 0, message, logprobs: null, finish_reason: done.finishReason }],
    usage: usage(done),
    timings: timings(done),
  });
}

async function stream(reply: FastifyReply, base: Base, body: ChatCompletionRequest, first: IteratorResult<ChatEvent>, rest: AsyncIterator<ChatEvent>, metrics: Metrics): Promise<void> {
  reply.hijack();
  const out = reply.raw;
  out.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive", "x-accel-buffering": "no" });
  const send = (data: unknown) => out.write(`data: ${JSON.stringify(data)}\n\n`);
  const chunk = (delta: Record<string, unknown>, finishReason: string | null = null) =>
    send({ ...base, object: "chat.completion.chunk", choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] });
  chunk({ role: "assistant", content: "" });
  try {
    for (let result = first; !result.done; result = await rest.next()) {
      const event = result.value;
      if (event.type === "text") {
        chunk(body.audio ? { audio: { id: base.id, transcript: event.text } } : { content: event.text });
        continue;
      }
      if (event.type === "audio") {
        chunk({ audio: { id: base.id, data: Buffer.from(pcm16(event.samples)).toString("base64") } });
        continue;
      }
      if (event.type !== "done") continue;
      count(metrics, event);
      const calls = toolCalls(event);
      if (calls) chunk({ tool_calls: calls.map((call, index) => ({ index, ...call })) });
      chunk({}, event.finishReason);
      if (body.stream_options?.include_usage) send({ ...base, object: "chat.completion.chunk", choices: [], usage: usage(event), timings: timings(event) });
      else send({ ...base, object: "chat.completion.chunk", choices: [], timings: timings(event) });
    }
    out.write("data: [DONE]\n\n");
  } catch (error) {
    if (!out.destroyed) {
      send(ApiError.from(error).body);
      out.write("data: [DONE]\n\n");
    }
    throw error;
  } finally {
    out.end();
  }
}

function count(metrics: Metrics, done: Done): void {
  metrics.promptTokens += done.usage.promptTokens;
  metrics.cachedPromptTokens += done.usage.cachedPromptTokens;
  metrics.completionTokens += done.usage.completionTokens;
}

function assistantMessage(done: Done) {
  const calls = toolCalls(done);
  return { role: "assistant", content: calls && !done.text.trim() ? null : done.text, refusal: null, ...(calls && { tool_calls: calls }) };
}

function toolCalls(done: Done) {
  if (done.toolCalls.length === 0) return undefined;
  return done.toolCalls.map((call) => ({ id: `call_${randomUUID().replace(/-/g, "").slice(0, 24)}`, type: "function", function: { name: call.name, arguments: JSON.stringify(call.arguments) } }));
}

function usage(done: Done) {
  return {
    prompt_tokens: done.usage.promptTokens,
    completion_tokens: done.usage.completionTokens,
    total_tokens: done.usage.totalTokens,
    prompt_tokens_details: { cached_tokens: done.usage.cachedPromptTokens },
  };
}

/** llama-server's timings, plus the time to the first token. */
function timings(done: Done) {
  const t = done.timings;
  const prefilled = done.usage.promptTokens - done.usage.cachedPromptTokens;
  return {
    prompt_n: prefilled,
    prompt_ms: t.prefillMs,
    prompt_per_second: t.prefillTokensPerSecond,
    predicted_n: done.usage.completionTokens,
    predicted_ms: t.decodeMs,
    predicted_per_second: t.decodeTokensPerSecond,
    time_to_first_token_ms: t.timeToFirstTokenMs,
  };
}
