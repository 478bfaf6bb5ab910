/** The playground on an LFM2-Audio model: audio in, speech out, and OpenAI's audio endpoints, over HTTP. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readWav } from "@lfmkit/audio";
import { checkpointFixtures, codecWithCodebookSize, fixturesRoot, readJson, testCacheDir } from "@lfmkit/testing";
import { Checkpoint } from "@lfmkit/core";
import OpenAI, { toFile } from "openai";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ApiError } from "../src/api-error.js";
import { startServer, type RunningServer } from "../src/index.js";

/** The body of an error answer, as the server writes it. */
type ErrorBody = ApiError["body"];

const dir = checkpointFixtures("audioModel")[0];
const reference = readJson<{ input_wav: string; cases: { mode: string; system: string; max_new_tokens: number; steps: ({ text: number } | { audio: number[] })[] }[] }>(join(dir, "reference.json"));
const wav = readFileSync(join(fixturesRoot(), reference.input_wav));
const endOfAudio = Checkpoint.open(dir).info("depth_embeddings.0.embedding.weight").shape[0] - 1;

let server: RunningServer;
let client: OpenAI;
let modelId: string;
beforeAll(async () => {
  const codec = codecWithCodebookSize(checkpointFixtures("mimi")[0], endOfAudio);
  server = await startServer({ modelPath: dir, codec, port: 0, cacheDir: testCacheDir() });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
  modelId = (await client.models.list()).data[0].id;
});
afterAll(() => server.close());

describe.each(reference.cases.map((c) => [c.mode, c] as const))("%s reference case over HTTP", (_, c) => {
  test("input_audio in, the reference's text out (greedy)", async () => {
    const response = await client.chat.completions.create({
      model: modelId,
      temperature: 0,
      max_tokens: c.max_new_tokens,
      messages: [
        { role: "system", content: c.system },
        { role: "user", content: [{ type: "input_audio", input_audio: { data: wav.toString("base64"), format: "wav" } }] },
      ],
      // The chat API's default loop is sequential without speech: ask for this case's.
      ...({ modalities: c.mode === "interleaved" ? ["text", "audio"] : ["text"], audio: c.mode === "interleaved" ? { voice: "alloy", format: "wav" } : undefined } as object),
    });
    const ids = c.steps.flatMap((s) => ("text" in s ? [s.text] : []));
    const message = response.choices[0].message as OpenAI.ChatCompletionMessage & { audio?: { transcript: string; data: string } };
    const text = c.mode === "interleaved" ? message.audio!.transcript : message.content;
    expect(text).toBe(server.model.tokenizer.decode(ids, { skipSpecialTokens: true }));
    if (c.mode === "interleaved") {
      const audio = await readWav(Buffer.from(message.audio!.data, "base64"));
      const frames = c.steps.filter((s) => "audio" in s && !s.audio.includes(endOfAudio)).length;
      expect(audio.samples.length).toBe(frames * (audio.sampleRate / 12.5));
    }
  });
});

test("speech streams as delta.audio chunks of base64 PCM16, with the transcript", async () => {
  const c = reference.cases.find((x) => x.mode === "interleaved")!;
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: modelId,
      stream: true,
      temperature: 0,
      max_tokens: c.max_new_tokens,
      modalities: ["text", "audio"],
      audio: { voice: "alloy", format: "pcm16" },
      messages: [{ role: "system", content: c.system }, { role: "user", content: [{ type: "input_audio", input_audio: { data: wav.toString("base64"), format: "wav" } }] }],
    }),
  });
  const events = (await response.text()).split("\n\n").filter((e) => e.startsWith("data: {")).map((e) => JSON.parse(e.slice(6)));
  const audio = events.flatMap((e) => (e.choices?.[0]?.delta?.audio?.data ? [Buffer.from(e.choices[0].delta.audio.data, "base64")] : []));
  const transcript = events.map((e) => e.choices?.[0]?.delta?.audio?.transcript ?? "").join("");
  expect(audio.length).toBeGreaterThan(1);
  expect(audio.reduce((n, b) => n + b.length, 0) % 2).toBe(0);
  expect(transcript).toBe(server.model.tokenizer.decode(c.steps.flatMap((s) => ("text" in s ? [s.text] : [])), { skipSpecialTokens: true }));
});

test("POST /v1/audio/transcriptions (multipart) answers as the ASR reference case", async () => {
  const asr = reference.cases.find((c) => c.system === "Perform ASR.");
  const result = await client.audio.transcriptions.create({ model: modelId, file: await toFile(wav, "question.wav") });
  expect(asr).toBeDefined();
  // The reference holds the first steps of the same greedy run; the endpoint runs on to the end of the answer.
  const referenceText = server.model.tokenizer.decode(asr!.steps.flatMap((s) => ("text" in s ? [s.text] : [])), { skipSpecialTokens: true }).trim();
  expect(result.text.startsWith(referenceText)).toBe(true);
});

// Random weights may never open audio in the sequential (TTS) loop: then the answer is a clear error, not an empty WAV.
test("POST /v1/audio/speech returns a WAV of the speech, or says there was none", async () => {
  const response = await fetch(`${server.url}/v1/audio/speech`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: modelId, input: "Hello." }) });
  if (response.status === 200) {
    expect(response.headers.get("content-type")).toBe("audio/wav");
    expect((await readWav(new Uint8Array(await response.arrayBuffer()))).samples.length).toBeGreaterThan(0);
  } else {
    expect(((await response.json()) as ErrorBody).error.message).toMatch(/no speech/);
  }
});

test("a broken WAV in input_audio is a 400 naming what is wrong", async () => {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: modelId, messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: wav.subarray(0, 100).toString("base64"), format: "wav" } }] }] }),
  });
  expect(response.status).toBe(400);
  expect(((await response.json()) as ErrorBody).error.message).toMatch(/truncated/);
});
