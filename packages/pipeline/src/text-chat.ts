/** LFM2 and LFM2-MoE (folders or GGUF files) behind the chat interface. */
import { LfmkitError } from "@lfmkit/core";
import { TextModel, chatPromptIds, type LoadOptions } from "@lfmkit/text";
import { TextTokenizer } from "@lfmkit/tokenizer";
import type { ChatEvent, ChatModel, ChatOptions } from "./chat-model.js";
import { decode } from "./generation.js";
import { partsOf, type Message } from "./messages.js";
import { templateMessages } from "./template-messages.js";

export class TextChat implements ChatModel {
  readonly architecture = "text";

  private constructor(
    readonly model: TextModel,
    readonly tokenizer: TextTokenizer,
  ) {}

  static async load(path: string, options: LoadOptions = {}): Promise<TextChat> {
    const tokenizer = TextTokenizer.load(path);
    return new TextChat(await TextModel.load(path, options), tokenizer);
  }

  get path(): string {
    return this.model.path;
  }

  chat(messages: readonly Message[], options: ChatOptions = {}): AsyncIterable<ChatEvent> {
    for (const kind of ["image", "audio"] as const) {
      if (partsOf(messages, kind).length > 0) throw new LfmkitError(`this is a text-only model: it cannot take ${kind} input`, this.path);
    }
    return this.complete(chatPromptIds(this.tokenizer, templateMessages(messages), options.tools), options);
  }

  complete(promptIds: readonly number[], options: ChatOptions = {}): AsyncIterable<ChatEvent> {
    return decode(this.model, this.tokenizer, promptIds, options);
  }

  dispose(): Promise<void> {
    return this.model.dispose();
  }
}
