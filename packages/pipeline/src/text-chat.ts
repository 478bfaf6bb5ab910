/** LFM2 and LFM2-MoE (folders or GGUF files) behind the chat interface. */
import { LfmkitError } from "@lfmkit/core";
import { TextModel } from "@lfmkit/text";
import { TextTokenizer } from "@lfmkit/tokenizer";
import { DEFAULT_PREFIX_CACHE_BYTES, type ChatEvent, type ChatModel, type ChatModelOptions, type ChatOptions } from "./chat-model.js";
import { decode, refuseAudioGeneration } from "./generation.js";
import { PrefixCache } from "./prefix-cache.js";
import { PromptTokens } from "./prompt-tokens.js";
import { partsOf, type Message } from "./messages.js";
import { templateMessages } from "./template-messages.js";

export class TextChat implements ChatModel {
  readonly architecture = "text";

  private constructor(
    readonly model: TextModel,
    readonly tokenizer: TextTokenizer,
    readonly prefixes: PrefixCache,
  ) {
    this.promptTokens = new PromptTokens(tokenizer);
  }

  private readonly promptTokens: PromptTokens;

  static async load(path: string, options: ChatModelOptions = {}): Promise<TextChat> {
    const { prefixCacheBytes = DEFAULT_PREFIX_CACHE_BYTES, ...loadOptions } = options;
    const tokenizer = TextTokenizer.load(path);
    return new TextChat(await TextModel.load(path, loadOptions), tokenizer, new PrefixCache(prefixCacheBytes));
  }

  get keptBytes(): number {
    return this.prefixes.heldBytes;
  }

  get path(): string {
    return this.model.path;
  }

  chat(messages: readonly Message[], options: ChatOptions = {}): AsyncIterable<ChatEvent> {
    refuseAudioGeneration(options, this.path);
    for (const kind of ["image", "audio"] as const) {
      if (partsOf(messages, kind).length > 0) throw new LfmkitError(`this is a text-only model: it cannot take ${kind} input`, this.path);
    }
    const text = this.tokenizer.applyChatTemplate(templateMessages(messages), { addGenerationPrompt: true, tools: options.tools ? [...options.tools] : undefined });
    return this.complete(this.promptTokens.encode(text), options);
  }

  complete(promptIds: readonly number[], options: ChatOptions = {}): AsyncIterable<ChatEvent> {
    const key = { ids: promptIds, images: [] };
    const kept = this.prefixes.take(key);
    return decode(this.model, this.tokenizer, { key, state: kept?.state, logits: kept?.logits }, options, this.prefixes);
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}
