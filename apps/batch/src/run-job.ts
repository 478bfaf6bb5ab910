/** Runs one job on a loaded model: its answer record, or an error record when the job itself is at fault. */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { writeWav } from "@lfmkit/audio";
import { LfmkitError, concatFloat32 } from "@lfmkit/core";
import type { ChatEvent, ChatModel } from "@lfmkit/pipeline";
import type { ChatJob } from "./job-contract.js";
import { errorRecord, type ResultRecord } from "./result-record.js";

type Done = Extract<ChatEvent, { type: "done" }>;

/**
 * Bad input (a missing image, a non-image file, a request the model cannot serve) gives an error
 * record, since running the job again would fail the same way. Anything else is thrown: the caller
 * decides whether it is worth another attempt.
 */
export async function runJob(model: ChatModel, job: ChatJob, audioDir: string): Promise<ResultRecord> {
  const unsupported = unsupportedReason(model, job);
  if (unsupported) return errorRecord(job.id, "unsupported", unsupported);
  try {
    const { done, speech } = await answer(model, job);
    let audio: string | null = null;
    if (job.response === "speech") {
      if (speech.samples.length === 0) return errorRecord(job.id, "no_speech", `the answer held no speech (it said ${JSON.stringify(done.text.slice(0, 80))})`);
      mkdirSync(audioDir, { recursive: true });
      audio = join(audioDir, `${encodeURIComponent(job.id)}.wav`);
      await writeWav(audio, speech.samples, speech.sampleRate);
    }
    return {
      id: job.id,
      text: done.text,
      tool_calls: done.toolCalls,
      audio,
      finish_reason: done.finishReason,
      usage: done.usage,
      timings: done.timings,
    };
  } catch (error) {
    if (error instanceof LfmkitError) return errorRecord(job.id, "invalid_input", error.message.split("\n")[0]);
    throw error;
  }
}

async function answer(model: ChatModel, job: ChatJob): Promise<{ done: Done; speech: { samples: Float32Array; sampleRate: number } }> {
  const chunks: Float32Array[] = [];
  let sampleRate = 24000;
  for await (const event of model.chat(job.messages, { ...job.options, speech: job.response === "speech" })) {
    if (event.type === "audio") {
      chunks.push(event.samples);
      sampleRate = event.sampleRate;
    }
    if (event.type === "done") return { done: event, speech: { samples: concatFloat32(chunks), sampleRate } };
  }
  throw new Error("the model ended its answer without a done event");
}

/** What the model cannot do that the job asks for, if anything. */
function unsupportedReason(model: ChatModel, job: ChatJob): string | undefined {
  const kind = `this ${model.architecture} model`;
  if (job.response === "speech" && model.architecture !== "audio") return `${kind} cannot answer with speech (response "speech" needs an LFM2-Audio model)`;
  const parts = job.messages.flatMap((m) => (typeof m.content === "string" ? [] : m.content));
  if (parts.some((p) => p.type === "audio") && model.architecture !== "audio") return `${kind} cannot take audio input (it needs an LFM2-Audio model)`;
  if (parts.some((p) => p.type === "image") && model.architecture === "text") return `${kind} cannot take image input (it needs an LFM2-VL model)`;
  return undefined;
}
