import { TextModel, chatPromptIds, generate, samplingFor } from "@lfmkit/text";
import { TextTokenizer, type ChatMessage } from "@lfmkit/tokenizer";
import type { GenerateArgs } from "./options.js";

export async function runGenerate(args: GenerateArgs): Promise<void> {
  const tokenizer = TextTokenizer.load(args.model);
  const sampling = samplingFor(args.model, args);
  const model = await TextModel.load(args.model, { weightFormat: args.weightFormat, threads: args.threads, cacheDir: args.cacheDir });
  const promptIds = promptIdsFor(args, tokenizer);
  const controller = new AbortController();
  const onInterrupt = () => controller.abort(new Error("interrupted"));
  process.once("SIGINT", onInterrupt);
  try {
    for await (const event of generate(model, tokenizer, promptIds, { ...sampling, maxTokens: args.maxTokens, signal: controller.signal })) {
      if (event.type === "token") {
        if (!args.json) process.stdout.write(event.text);
      } else if (args.json) {
        process.stdout.write(
          `${JSON.stringify({
            ids: event.ids,
            text: event.text,
            prompt_ids: promptIds,
            finish_reason: event.finishReason,
            usage: event.usage,
            timings: event.timings,
          })}\n`,
        );
      } else {
        process.stdout.write("\n");
      }
    }
  } finally {
    process.off("SIGINT", onInterrupt);
    await model.dispose();
  }
}

function promptIdsFor(args: GenerateArgs, tokenizer: TextTokenizer): number[] {
  if (args.promptIds) return args.promptIds;
  if (args.raw !== undefined) return tokenizer.encode(args.raw, { addSpecialTokens: true });
  const messages: ChatMessage[] = [];
  if (args.system !== undefined) messages.push({ role: "system", content: args.system });
  messages.push({ role: "user", content: args.prompt! });
  return chatPromptIds(tokenizer, messages);
}
