/**
 * LFM2-Audio behind the chat interface: messages with text and audio in; text, audio frames and (with
 * the Mimi codec that ships beside the model) speech out. A conversation continues from the state it
 * kept after its last answer, so a new user turn is appended, not re-encoded.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { MimiCodec, codesFromFrames } from "@lfmkit/audio";
import type { ChatEvent, ChatModel, ChatModelOptions, ChatOptions } from "./chat-model.js";
import { digestOf } from "./generation.js";
import { LFM2AudioModel } from "./lfm2-audio.js";
import type { AudioChatEvent, LFM2AudioConversation, UserPart } from "./lfm2-audio-conversation.js";
import { mediaSource } from "./media.js";
import type { AudioInput, Message } from "./messages.js";

export interface AudioChatOptions extends ChatModelOptions {
  /** The Mimi checkpoint (a folder or a .safetensors file); default: `tokenizer-*.safetensors` beside the model. */
  codec?: string;
}

/** Conversations kept for continuation, at most. */
const KEPT_CONVERSATIONS = 16;

export class AudioChat implements ChatModel {
  readonly architecture = "audio";
  /** Kept conversations by the key of their messages so far, answer included; least recently used first. */
  private conversations = new Map<string, LFM2AudioConversation>();

  private constructor(
    readonly model: LFM2AudioModel,
    readonly codec: MimiCodec | undefined,
  ) {}

  static async load(path: string, options: AudioChatOptions = {}): Promise<AudioChat> {
    const { codec: codecPath = codecBeside(path), prefixCacheBytes: _, ...loadOptions } = options;
    const model = await LFM2AudioModel.load(path, loadOptions);
    try {
      const codec = codecPath ? await MimiCodec.load(codecPath, { codebooks: model.config.codebooks, cacheDir: loadOptions.cacheDir, threads: loadOptions.threads }) : undefined;
      return new AudioChat(model, codec);
    } catch (error) {
      await model.dispose();
      throw error;
    }
  }

  get keptBytes(): number {
    let total = 0;
    for (const conversation of this.conversations.values()) total += conversation.bytes;
    return total;
  }

  get path(): string {
    return this.model.path;
  }

  get tokenizer() {
    return this.model.tokenizer;
  }

  async *chat(messages: readonly Message[], options: ChatOptions = {}): AsyncGenerator<ChatEvent> {
    if (options.speech && !this.codec) throw new LfmkitError("speech output needs the Mimi codec: no tokenizer-*.safetensors beside the model (give one with --codec)", this.path);
    const turns = messages.map((m) => ({ message: m, key: messageKey(m) }));
    const last = turns.at(-1);
    if (!last || last.message.role !== "user") throw new LfmkitError("the last message must be the user's turn");
    const historyKey = turns.slice(0, -1).map((t) => t.key).join("\n");
    let conversation = this.conversations.get(historyKey);
    this.conversations.delete(historyKey);
    if (!conversation) {
      if (turns.some((t) => t.message.role === "assistant")) {
        throw new LfmkitError("LFM2-Audio continues only conversations whose answers it gave (send the history this model answered, or start anew)");
      }
      const system = turns.filter((t) => t.message.role === "system").map((t) => textOf(t.message)).join("\n");
      conversation = this.model.conversation({ system: system || undefined });
      for (const t of turns.slice(0, -1).filter((t) => t.message.role === "user")) await conversation.addUserTurn(userParts(t.message));
    }
    const stream = options.speech ? this.codec!.decoderStream() : undefined;
    const events = conversation.send(userParts(last.message), {
      mode: options.mode ?? (options.speech ? "interleaved" : "sequential"),
      maxNewTokens: options.maxTokens,
      textTemperature: options.temperature ?? 0,
      textTopK: options.topK,
      audioTemperature: options.audioTemperature ?? (options.temperature === 0 ? 0 : undefined),
      audioTopK: options.audioTopK,
      seed: options.seed,
      signal: options.signal,
      codec: stream && { decodeFrames: (frames) => stream.push(codesFromFrames(frames)) },
    });
    for await (const event of events) {
      const converted = toChatEvent(event, this.codec?.sampleRate ?? 0);
      if (event.type === "done") this.keep([...turns.map((t) => t.key), `assistant:${event.text}`].join("\n"), conversation);
      yield converted;
    }
  }

  complete(): AsyncIterable<ChatEvent> {
    throw new LfmkitError("LFM2-Audio answers chats: raw prompt ids are not supported", this.path);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.model.dispose(), this.codec?.dispose()]);
  }

  private keep(key: string, conversation: LFM2AudioConversation): void {
    this.conversations.set(key, conversation);
    while (this.conversations.size > KEPT_CONVERSATIONS) this.conversations.delete(this.conversations.keys().next().value!);
  }
}

function toChatEvent(event: AudioChatEvent, sampleRate: number): ChatEvent {
  switch (event.type) {
    case "text":
      return { type: "text", text: event.text, tokenId: event.id };
    case "audio":
      return { type: "audio_frame", codes: event.codes };
    case "audio_chunk":
      return { type: "audio", samples: event.samples, sampleRate };
    case "done": {
      const ids = event.steps.flatMap((s) => ("text" in s ? [s.text] : []));
      return { type: "done", finishReason: event.finishReason, text: event.text, toolCalls: [], ids, promptIds: [], steps: event.steps, usage: event.usage, timings: event.timings };
    }
  }
}

/** `tokenizer-*.safetensors` in the model folder: the Mimi checkpoint LFM2-Audio ships with. */
function codecBeside(dir: string): string | undefined {
  const found = readdirSync(dir).filter((name) => /^tokenizer.*\.safetensors$/.test(name));
  return found.length > 0 ? join(dir, found.sort()[0]) : undefined;
}

function textOf(message: Message): string {
  return typeof message.content === "string" ? message.content : message.content.flatMap((p) => (p.type === "text" ? [p.text] : [])).join("");
}

function userParts(message: Message): UserPart[] {
  if (typeof message.content === "string") return [{ type: "text", text: message.content }];
  return message.content.map((part) => {
    if (part.type === "text") return part;
    if (part.type === "audio") return { type: "audio", audio: audioClip(part.audio) };
    throw new LfmkitError("LFM2-Audio cannot take image input");
  });
}

function audioClip(input: AudioInput) {
  return typeof input === "string" || input instanceof Uint8Array ? mediaSource(input, "audio") : input;
}

/** A message as a line of a conversation's key: its role, texts and audio contents. */
function messageKey(message: Message): string {
  if (typeof message.content === "string") return `${message.role}:${message.content}`;
  const parts = message.content.map((p) => (p.type === "text" ? p.text : p.type === "audio" ? `<audio ${audioDigest(p.audio)}>` : "<image>"));
  return `${message.role}:${JSON.stringify(parts)}`;
}

function audioDigest(input: AudioInput): string {
  if (typeof input === "string" || input instanceof Uint8Array) return digestOf(input);
  return digestOf(new Uint8Array(input.samples.buffer, input.samples.byteOffset, input.samples.byteLength)) + input.sampleRate;
}
