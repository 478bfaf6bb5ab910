/** OpenAI's audio endpoints over LFM2-Audio: transcriptions (ASR) and speech (TTS), as liquid-audio prompts them. */
import { encodeWav } from "@lfmkit/audio";
import type { ChatModel, Message } from "@lfmkit/pipeline";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { ApiError } from "./api-error.js";
import { SpeechBuffer, pcm16 } from "./speech.js";


const ASR_PROMPT = "Perform ASR.";
const TTS_PROMPT = "Perform TTS.";

export interface AudioRoute {
  readonly model: ChatModel;
  readonly modelId: string;
}

const speechSchema = z.object({
  model: z.string().min(1),
  input: z.string().min(1).max(4096),
  voice: z.string().optional(),
  response_format: z.enum(["wav", "pcm"]).default("wav"),
});

/** POST /v1/audio/transcriptions (multipart: `file`, `model`, optional `response_format` json | text). */
export async function transcription(route: AudioRoute, request: FastifyRequest): Promise<{ text: string } | string> {
  requireAudioModel(route);
  if (!request.isMultipart()) throw new ApiError(400, "send the audio as multipart/form-data with a `file` field", "invalid_request_error", "file");
  const file = await request.file();
  if (!file) throw new ApiError(400, "the form has no `file` field", "invalid_request_error", "file");
  const audio = new Uint8Array(await file.toBuffer());
  const field = (name: string) => {
    const value = file.fields[name];
    return value && !Array.isArray(value) && value.type === "field" ? String(value.value) : undefined;
  };
  checkModel(route, field("model"));
  const messages: Message[] = [{ role: "system", content: ASR_PROMPT }, { role: "user", content: [{ type: "audio", audio }] }];
  const text = (await answer(route.model, messages, false)).text.trim();
  return field("response_format") === "text" ? text : { text };
}

/** POST /v1/audio/speech (JSON: `model`, `input`, optional `response_format` wav | pcm) → the audio bytes. */
export async function speech(route: AudioRoute, request: FastifyRequest): Promise<{ bytes: Uint8Array; contentType: string }> {
  requireAudioModel(route);
  const parsed = speechSchema.safeParse(request.body);
  if (!parsed.success) throw ApiError.invalid(parsed.error);
  checkModel(route, parsed.data.model);
  const messages: Message[] = [{ role: "system", content: TTS_PROMPT }, { role: "user", content: parsed.data.input }];
  const { audio } = await answer(route.model, messages, true);
  if (audio.samples.length === 0) throw new ApiError(500, "the model produced no speech for this input", "server_error");
  return parsed.data.response_format === "wav"
    ? { bytes: encodeWav(audio.samples, audio.sampleRate, "pcm16"), contentType: "audio/wav" }
    : { bytes: pcm16(audio.samples), contentType: "audio/pcm" };
}

function requireAudioModel(route: AudioRoute): void {
  if (route.model.architecture !== "audio") throw new ApiError(400, `the model "${route.modelId}" has no audio input and output (it is a ${route.model.architecture} model)`, "invalid_request_error", "model");
}

function checkModel(route: AudioRoute, model: string | undefined): void {
  if (model !== undefined && model !== route.modelId) throw new ApiError(404, `the model "${model}" does not exist; this server runs "${route.modelId}"`, "invalid_request_error", "model", "model_not_found");
}

async function answer(model: ChatModel, messages: Message[], speak: boolean) {
  const audio = new SpeechBuffer();
  let text = "";
  for await (const event of model.chat(messages, { mode: "sequential", speech: speak })) {
    if (event.type === "audio") audio.add(event);
    else if (event.type === "done") text = event.text;
  }
  return { text, audio: { samples: audio.samples, sampleRate: audio.sampleRate } };
}
