import { LfmkitError, Sampler, type SamplingOptions } from "@lfmkit/core";
import type { TextTokenizer } from "@lfmkit/tokenizer";
import type { TextModel } from "./model.js";
import type { DecoderState, StateMark } from "./state.js";
import { DEFAULT_MAX_TOKENS } from "./policy.js";

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (default `DEFAULT_MAX_TOKENS`); generation also ends at the model's context length. */
  maxTokens?: number;
  /** Generation ends when the text contains one of these; the stop string is not returned. */
  stop?: readonly string[];
  /** Token ids that end generation; default: the model's eos_token_id(s) and the tokenizer's eos. */
  stopTokenIds?: readonly number[];
  signal?: AbortSignal;
  /**
   * A state that has already seen the prompt's first `state.position` positions (a kept prefix):
   * only the rest is prefilled. Advanced in place; by default a fresh state.
   */
  state?: DecoderState;
  /**
   * The logits `state` ended on, when it has seen the whole prompt (a kept `promptEnd`, for another
   * answer to the same prompt): nothing is prefilled.
   */
  promptLogits?: Float32Array;
}

export type FinishReason = "stop" | "length";

export interface Usage {
  promptTokens: number;
  /** Prompt positions taken from a kept state instead of prefilled. */
  cachedPromptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface Timings {
  prefillMs: number;
  decodeMs: number;
  timeToFirstTokenMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
}

export type GenerationEvent =
  | { type: "token"; id: number; text: string }
  | {
      type: "done";
      finishReason: FinishReason;
      ids: number[];
      text: string;
      usage: Usage;
      timings: Timings;
      state: DecoderState;
      /** `state` right after the prompt, before any generated token: where a retry of the answer starts. */
      promptEnd: PromptEnd;
    };

/** A point right after a prompt, with the logits of its last position, from which it can be answered again. */
export interface PromptEnd extends StateMark {
  readonly logits: Float32Array;
}

/**
 * A prompt whose rows are not all token embeddings: `embeddings` holds the rows the decoder reads
 * (image or audio features in place of their placeholder tokens) for the positions it has not seen
 * (all of them, unless `GenerateOptions.state` holds a prefix), `ids` the tokens they stand for (seen
 * by the repetition penalty).
 */
export interface EmbeddedPrompt {
  readonly ids: readonly number[];
  readonly embeddings: Float32Array;
}

/**
 * Streams a completion of a prompt (token ids, or an `EmbeddedPrompt`): one "token" event per
 * generated token (with the text it completes, which can be empty), then one "done" event. Aborting
 * `signal` rejects the iteration with the signal's reason.
 */
export async function* generate(
  model: TextModel,
  tokenizer: TextTokenizer,
  prompt: readonly number[] | EmbeddedPrompt,
  options: GenerateOptions = {},
): AsyncGenerator<GenerationEvent> {
  const promptIds = "embeddings" in prompt ? prompt.ids : (prompt as readonly number[]);
  const { maxTokens = DEFAULT_MAX_TOKENS, stop = [], signal } = options;
  if (promptIds.length === 0) throw new LfmkitError("the prompt is empty");
  const context = model.config.maxPositions;
  if (promptIds.length > context) {
    throw new LfmkitError(`the prompt has ${promptIds.length} tokens but the model's context is ${context} (max_position_embeddings)`);
  }
  const stopIds = new Set(options.stopTokenIds ?? [...model.config.eosTokenIds, ...(tokenizer.eosTokenId === undefined ? [] : [tokenizer.eosTokenId])]);
  const sampler = new Sampler(options);
  const decoder = tokenizer.streamDecoder();
  const state = options.state ?? model.newState();
  const cached = state.position;
  const { promptLogits } = options;
  if (promptLogits && (cached !== promptIds.length || promptLogits.length !== model.config.vocabSize)) {
    throw new LfmkitError(`promptLogits must be the ${model.config.vocabSize} logits of a state that has seen the whole prompt (${cached} of ${promptIds.length} positions seen, ${promptLogits.length} logits)`);
  }
  if (!promptLogits && cached >= promptIds.length) {
    throw new LfmkitError(`the kept state has seen ${cached} positions, the prompt has ${promptIds.length}: at least one must be left to prefill`);
  }
  const seen = new Set(promptIds);
  const longestStop = Math.max(0, ...stop.map((s) => s.length));
  const ids: number[] = [];
  let text = "";
  let emitted = 0;
  let finishReason: FinishReason = "length";

  signal?.throwIfAborted();
  const start = performance.now();
  if ("embeddings" in prompt && prompt.embeddings.length !== (promptIds.length - cached) * model.config.hiddenSize) {
    throw new LfmkitError(`the prompt's embeddings must hold its ${promptIds.length - cached} positions after the kept ${cached}`);
  }
  const prefilled = promptLogits
    ? undefined
    : ("embeddings" in prompt ? await model.forwardEmbeddings(state, prompt.embeddings) : await model.forward(state, promptIds.slice(cached))).logits;
  const prefillMs = performance.now() - start;
  // Sampling applies the repetition penalty in place, so the row kept for answering again is never the one sampled.
  const promptEnd: PromptEnd = { ...state.mark(), logits: promptLogits ?? lastRow(prefilled!, model.config.vocabSize).slice() };
  let logits = prefilled ?? promptEnd.logits.slice();
  let firstTokenMs = prefillMs;

  while (ids.length < maxTokens) {
    signal?.throwIfAborted();
    const id = sampler.sample(lastRow(logits, model.config.vocabSize), seen);
    if (ids.length === 0) firstTokenMs = performance.now() - start;
    if (stopIds.has(id)) {
      finishReason = "stop";
      break;
    }
    ids.push(id);
    seen.add(id);
    text += decoder.push(id);
    // A stop string can only end in the new text, so only the tail that could hold one is searched.
    const stopAt = findStop(text, stop, Math.max(0, emitted - longestStop));
    if (stopAt !== undefined) {
      text = text.slice(0, stopAt);
      finishReason = "stop";
      yield { type: "token", id, text: text.slice(emitted) };
      emitted = text.length;
      break;
    }
    const safe = text.length - heldBack(text, stop);
    yield { type: "token", id, text: text.slice(emitted, safe) };
    emitted = Math.max(emitted, safe);
    if (ids.length >= maxTokens || state.position >= context) break;
    ({ logits } = await model.forward(state, [id]));
  }
  if (finishReason === "length") text += decoder.end();
  const decodeMs = performance.now() - start - prefillMs;
  const decodeSteps = Math.max(ids.length - 1, 0);
  yield {
    type: "done",
    finishReason,
    ids,
    text,
    usage: { promptTokens: promptIds.length, cachedPromptTokens: cached, completionTokens: ids.length, totalTokens: promptIds.length + ids.length },
    timings: {
      prefillMs,
      decodeMs,
      timeToFirstTokenMs: firstTokenMs,
      prefillTokensPerSecond: promptIds.length > cached ? ((promptIds.length - cached) / prefillMs) * 1000 : 0,
      decodeTokensPerSecond: decodeSteps > 0 ? (decodeSteps / decodeMs) * 1000 : 0,
    },
    state,
    promptEnd,
  };
}

function lastRow(logits: Float32Array, vocab: number): Float32Array {
  return logits.subarray(logits.length - vocab);
}

function findStop(text: string, stops: readonly string[], from: number): number | undefined {
  let first: number | undefined;
  for (const s of stops) {
    const at = s ? text.indexOf(s, from) : -1;
    if (at >= 0 && (first === undefined || at < first)) first = at;
  }
  return first;
}

/** Length of the longest tail of `text` that could still grow into a stop string. */
function heldBack(text: string, stops: readonly string[]): number {
  let longest = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > longest; n--) {
      if (text.endsWith(s.slice(0, n))) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}
