/** The one chat interface every model kind answers: messages in, a stream of events out. */
import type { FinishReason, LoadOptions, RequestedSampling, Timings, Usage } from "@lfmkit/text";
import type { TextTokenizer } from "@lfmkit/tokenizer";
import type { Architecture } from "./architecture.js";
import type { Message } from "./messages.js";
import type { GeneratedStep } from "./lfm2-audio-conversation.js";
import type { ToolCall } from "./tool-calls.js";

/** Decoder states kept for prefix reuse, at most (256 MiB). */
export const DEFAULT_PREFIX_CACHE_BYTES = 256 * 1024 * 1024;

/** How a chat model is loaded: the decoder's options, plus the memory kept for prefix reuse. */
export interface ChatModelOptions extends LoadOptions {
  /** Bytes of decoder state kept after answers, so a next turn prefills only its new tokens (0: off). */
  prefixCacheBytes?: number;
}

export interface ChatOptions extends RequestedSampling {
  maxTokens?: number;
  /** Generation ends when the text contains one of these; the stop string is not returned. */
  stop?: readonly string[];
  /** Generate past end-of-sequence tokens, up to `maxTokens` (as llama.cpp's --ignore-eos). */
  ignoreEos?: boolean;
  /** Speak the answer (models that can): `audio` events with samples as they are generated. */
  speech?: boolean;
  /** LFM2-Audio's generation loop; default interleaved when speaking, else sequential. */
  mode?: "interleaved" | "sequential";
  /** LFM2-Audio's audio sampling (default 1.0 and top-k 4; 0 with a text temperature of 0). */
  audioTemperature?: number;
  audioTopK?: number;
  /** Tool definitions, rendered by the model's chat template. */
  tools?: readonly unknown[];
  signal?: AbortSignal;
}

export type ChatEvent =
  | { type: "text"; text: string; tokenId: number }
  /** A generated frame of audio codes, one per codebook (LFM2-Audio). */
  | { type: "audio_frame"; codes: number[] }
  /** Speech samples continuing the answer's audio, mono float. */
  | { type: "audio"; samples: Float32Array; sampleRate: number }
  | {
      type: "done";
      /** "tool_calls" when the answer ended in tool calls. */
      finishReason: FinishReason | "tool_calls";
      /** The answer's text, without its tool calls. */
      text: string;
      toolCalls: ToolCall[];
      ids: number[];
      promptIds: number[];
      /** LFM2-Audio: every step in order, a text id or a frame of codes. */
      steps?: GeneratedStep[];
      usage: Usage;
      timings: Timings;
    };

export interface ChatModel {
  readonly architecture: Architecture;
  readonly path: string;
  readonly tokenizer: TextTokenizer;
  /** Streams the assistant's answer to `messages`. */
  chat(messages: readonly Message[], options?: ChatOptions): AsyncIterable<ChatEvent>;
  /** Bytes of decoder state kept for reuse (prefixes, conversations). */
  readonly keptBytes: number;
  /** Streams the continuation of prompt ids as they are (no chat template). */
  complete(promptIds: readonly number[], options?: ChatOptions): AsyncIterable<ChatEvent>;
  dispose(): Promise<void>;
}
