/** `lfm transcribe` and `lfm speak`: LFM2-Audio's ASR and TTS tasks, as liquid-audio prompts them. */
import { writeWav } from "@lfmkit/audio";
import { LfmkitError, concatFloat32 } from "@lfmkit/core";
import { loadModel, type ChatModel, type Message } from "@lfmkit/pipeline";
import type { AudioCommonArgs } from "./audio-commands.js";

const ASR_PROMPT = "Perform ASR.";
const TTS_PROMPT = "Perform TTS.";

export async function runTranscribe(args: AudioCommonArgs & { files: string[]; maxTokens: number; codec?: string }): Promise<void> {
  const model = await loadModel(args.model, { weightFormat: args.weightFormat, threads: args.threads, cacheDir: args.cacheDir });
  try {
    for (const file of args.files) {
      const messages: Message[] = [{ role: "system", content: ASR_PROMPT }, { role: "user", content: [{ type: "audio", audio: file }] }];
      const { text, seconds } = await answer(model, messages, { mode: "sequential", maxTokens: args.maxTokens });
      process.stdout.write(args.json ? `${JSON.stringify({ file, text, seconds })}\n` : `${args.files.length > 1 ? `${file}: ` : ""}${text}\n`);
    }
  } finally {
    await model.dispose();
  }
}

export async function runSpeak(args: AudioCommonArgs & { text: string; output: string; maxTokens: number; codec?: string; seed?: number; mode: "interleaved" | "sequential" }): Promise<void> {
  const model = await loadModel(args.model, { weightFormat: args.weightFormat, threads: args.threads, cacheDir: args.cacheDir, codec: args.codec });
  try {
    const messages: Message[] = [{ role: "system", content: TTS_PROMPT }, { role: "user", content: args.text }];
    const { samples, sampleRate, seconds, text } = await answer(model, messages, { mode: args.mode, speech: true, maxTokens: args.maxTokens, seed: args.seed });
    if (samples.length === 0) throw new LfmkitError(`the model produced no speech within ${args.maxTokens} steps (it answered ${JSON.stringify(text.slice(0, 80))})`, args.model);
    await writeWav(args.output, samples, sampleRate);
    const summary = { output: args.output, audio_seconds: samples.length / sampleRate, seconds };
    process.stdout.write(args.json ? `${JSON.stringify(summary)}\n` : `${summary.audio_seconds.toFixed(2)} s of speech written to ${args.output} in ${seconds.toFixed(1)} s\n`);
  } finally {
    await model.dispose();
  }
}

async function answer(model: ChatModel, messages: Message[], options: Parameters<ChatModel["chat"]>[1]) {
  const started = performance.now();
  const chunks: Float32Array[] = [];
  let sampleRate = 24000;
  let text = "";
  for await (const event of model.chat(messages, options)) {
    if (event.type === "audio") {
      chunks.push(event.samples);
      sampleRate = event.sampleRate;
    } else if (event.type === "done") text = event.text;
  }
  return { text: text.trim(), samples: concatFloat32(chunks), sampleRate, seconds: (performance.now() - started) / 1000 };
}
