import { writeWav } from "@lfmkit/audio";
import { concatFloat32 } from "@lfmkit/core";
import { loadModel, type ChatEvent, type ChatModel, type Message, type MessagePart } from "@lfmkit/pipeline";
import type { GenerateArgs } from "./options.js";

export async function runGenerate(args: GenerateArgs): Promise<void> {
  const model = await loadModel(args.model, {
    weightFormat: args.weightFormat,
    threads: args.threads,
    cacheDir: args.cacheDir,
    codec: args.codec,
    imageProcessor: imageOverrides(args),
  });
  const controller = new AbortController();
  const onInterrupt = () => controller.abort(new Error("interrupted"));
  process.once("SIGINT", onInterrupt);
  const speech: Float32Array[] = [];
  let sampleRate = 0;
  try {
    const options = { ...args, speech: args.outputAudio !== undefined, signal: controller.signal };
    for await (const event of eventsFor(model, args, options)) {
      if (event.type === "text") {
        if (!args.json) process.stdout.write(event.text);
      } else if (event.type === "audio") {
        speech.push(event.samples);
        sampleRate = event.sampleRate;
      } else if (event.type === "done") {
        if (args.outputAudio !== undefined) await writeWav(args.outputAudio, concatFloat32(speech), sampleRate || 24000);
        process.stdout.write(args.json ? `${JSON.stringify(jsonResult(event, speech, sampleRate))}\n` : "\n");
      }
    }
  } finally {
    process.off("SIGINT", onInterrupt);
    await model.dispose();
  }
}

function jsonResult(done: Extract<ChatEvent, { type: "done" }>, speech: Float32Array[], sampleRate: number) {
  const audio = done.steps && {
    steps: done.steps,
    audio_seconds: sampleRate ? speech.reduce((n, s) => n + s.length, 0) / sampleRate : 0,
  };
  return {
    ids: done.ids,
    text: done.text,
    prompt_ids: done.promptIds,
    finish_reason: done.finishReason,
    ...(done.toolCalls.length > 0 && { tool_calls: done.toolCalls }),
    ...audio,
    usage: done.usage,
    timings: done.timings,
  };
}

function eventsFor(model: ChatModel, args: GenerateArgs, options: GenerateArgs & { speech: boolean; signal: AbortSignal }): AsyncIterable<ChatEvent> {
  if (args.promptIds) return model.complete(args.promptIds, options);
  if (args.raw !== undefined) return model.complete(model.tokenizer.encode(args.raw, { addSpecialTokens: true }), options);
  const messages: Message[] = [];
  if (args.system !== undefined) messages.push({ role: "system", content: args.system });
  const parts: MessagePart[] = [
    ...args.image.map((image) => ({ type: "image" as const, image })),
    ...args.audio.map((audio) => ({ type: "audio" as const, audio })),
    ...(args.prompt !== undefined ? [{ type: "text" as const, text: args.prompt }] : []),
  ];
  messages.push({ role: "user", content: parts.length === 1 && parts[0].type === "text" ? parts[0].text : parts });
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

