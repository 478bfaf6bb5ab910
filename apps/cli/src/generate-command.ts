import { loadModel, type ChatEvent, type ChatModel, type Message } from "@lfmkit/pipeline";
import type { GenerateArgs } from "./options.js";

export async function runGenerate(args: GenerateArgs): Promise<void> {
  const model = await loadModel(args.model, {
    weightFormat: args.weightFormat,
    threads: args.threads,
    cacheDir: args.cacheDir,
    imageProcessor: imageOverrides(args),
  });
  const controller = new AbortController();
  const onInterrupt = () => controller.abort(new Error("interrupted"));
  process.once("SIGINT", onInterrupt);
  try {
    const options = { ...args, signal: controller.signal };
    for await (const event of eventsFor(model, args, options)) {
      if (event.type === "text") {
        if (!args.json) process.stdout.write(event.text);
      } else if (args.json) {
        process.stdout.write(
          `${JSON.stringify({
            ids: event.ids,
            text: event.text,
            prompt_ids: event.promptIds,
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

function eventsFor(model: ChatModel, args: GenerateArgs, options: GenerateArgs & { signal: AbortSignal }): AsyncIterable<ChatEvent> {
  if (args.promptIds) return model.complete(args.promptIds, options);
  if (args.raw !== undefined) return model.complete(model.tokenizer.encode(args.raw, { addSpecialTokens: true }), options);
  const messages: Message[] = [];
  if (args.system !== undefined) messages.push({ role: "system", content: args.system });
  const images = args.image.map((image) => ({ type: "image" as const, image }));
  messages.push({ role: "user", content: images.length ? [...images, { type: "text", text: args.prompt! }] : args.prompt! });
  return model.chat(messages, options);
}

function imageOverrides(args: GenerateArgs) {
  return {
    ...(args.maxImageTokens !== undefined && { maxImageTokens: args.maxImageTokens }),
    ...(args.minImageTokens !== undefined && { minImageTokens: args.minImageTokens }),
    ...(args.maxTiles !== undefined && { maxTiles: args.maxTiles }),
    ...(args.tiling === false && { doImageSplitting: false }),
  };
}
