/** Runs the text decoder on a prepared prompt, reports it as chat events, and keeps its state for reuse. */
import { createHash } from "node:crypto";
import { LfmkitError } from "@lfmkit/core";
import { generate, samplingFor, type DecoderState, type TextModel } from "@lfmkit/text";
import type { TextTokenizer } from "@lfmkit/tokenizer";
import type { ChatEvent, ChatOptions } from "./chat-model.js";
import type { PrefixCache, PromptKey } from "./prefix-cache.js";
import { TOOL_CALL_END, TOOL_CALL_START, ToolCallSplitter } from "./tool-calls.js";

export interface PreparedPrompt {
  readonly key: PromptKey;
  /** The kept state to continue from (it has seen the first `state.position` positions), if any. */
  readonly state?: DecoderState;
  /** Rows for the positions after `state`, when they are not all token embeddings. */
  readonly embeddings?: Float32Array;
  /** The logits `state` ended on, when it has seen the whole prompt (nothing is prefilled). */
  readonly logits?: Float32Array;
}

export async function* decode(
  model: TextModel,
  tokenizer: TextTokenizer,
  prompt: PreparedPrompt,
  options: ChatOptions,
  prefixes: PrefixCache,
): AsyncGenerator<ChatEvent> {
  const promptIds = [...prompt.key.ids];
  const sampling = samplingFor(model.path, options);
  const settings = { ...sampling, maxTokens: options.maxTokens, stop: options.stop, stopTokenIds: options.ignoreEos ? [] : undefined, signal: options.signal, state: prompt.state, promptLogits: prompt.logits };
  const input = prompt.embeddings ? { ids: promptIds, embeddings: prompt.embeddings } : promptIds;
  const calls = new ToolCallSplitter(toolCallMarkers(tokenizer), (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }));
  for await (const event of generate(model, tokenizer, input, settings)) {
    if (event.type === "token") {
      const text = calls.push(event.id, event.text);
      if (text) yield { type: "text", text, tokenId: event.id };
      continue;
    }
    const seen = [...promptIds, ...event.ids].slice(0, event.state.position);
    prefixes.keep({ ids: seen, images: prompt.key.images }, event.state, [event.promptEnd]);
    const { text, toolCalls } = calls.finish();
    const finishReason = toolCalls.length > 0 && event.finishReason === "stop" ? "tool_calls" : event.finishReason;
    yield { type: "done", finishReason, text, toolCalls, ids: event.ids, promptIds, usage: event.usage, timings: event.timings };
  }
}

/** The ids of the call markers, when the tokenizer has them as single tokens. */
function toolCallMarkers(tokenizer: TextTokenizer): { start: number; end: number } | undefined {
  const [start, end] = [tokenizer.encode(TOOL_CALL_START), tokenizer.encode(TOOL_CALL_END)];
  return start.length === 1 && end.length === 1 ? { start: start[0], end: end[0] } : undefined;
}

/** A digest of an image's bytes or path, for prompt keys. */
export function digestOf(source: string | Uint8Array): string {
  return createHash("sha256").update(source).digest("hex");
}

/** Speech and LFM2-Audio's loop settings asked of a model without audio output: a clear error. */
export function refuseAudioGeneration(options: ChatOptions, path: string): void {
  if (options.speech) throw new LfmkitError("this model cannot speak: it has no audio output", path);
  if (options.mode) throw new LfmkitError(`the ${options.mode} generation mode is LFM2-Audio's; this model has no audio output`, path);
}
