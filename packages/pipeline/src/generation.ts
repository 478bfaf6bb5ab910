/** Runs the text decoder on a prepared prompt and reports it as chat events. */
import { generate, samplingFor, type EmbeddedPrompt, type TextModel } from "@lfmkit/text";
import type { TextTokenizer } from "@lfmkit/tokenizer";
import type { ChatEvent, ChatOptions } from "./chat-model.js";

export async function* decode(
  model: TextModel,
  tokenizer: TextTokenizer,
  prompt: readonly number[] | EmbeddedPrompt,
  options: ChatOptions,
): AsyncGenerator<ChatEvent> {
  const promptIds = [...("embeddings" in prompt ? prompt.ids : (prompt as readonly number[]))];
  const sampling = samplingFor(model.path, options);
  const settings = { ...sampling, maxTokens: options.maxTokens, stop: options.stop, signal: options.signal };
  for await (const event of generate(model, tokenizer, prompt, settings)) {
    if (event.type === "token") yield { type: "text", text: event.text, tokenId: event.id };
    else yield { type: "done", finishReason: event.finishReason, text: event.text, ids: event.ids, promptIds, usage: event.usage, timings: event.timings };
  }
}
