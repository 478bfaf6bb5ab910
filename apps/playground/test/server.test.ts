/** The playground's HTTP API, started for real on the demo model and called over loopback. */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readJson, repoRoot, testCacheDir } from "@lfmkit/testing";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { ApiError } from "../src/api-error.js";
import { startServer, type RunningServer } from "../src/index.js";

const modelDir = join(repoRoot(), "models", "lfmkit-demo");
const reference = readJson<{ samples: { prompt: string; image?: string; text: string }[] }>(join(modelDir, "reference.json")).samples;
const imageSample = reference.find((s) => s.image)!;
const textSamples = reference.filter((s) => !s.image);
/** The body of an error answer, as the server writes it. */
type ErrorBody = ApiError["body"];
/** A non-streamed answer: OpenAI's chat.completion plus llama-server's timings. */
type CompletionBody = OpenAI.ChatCompletion & { usage: OpenAI.CompletionUsage; timings: { predicted_per_second: number } };
const dataUrl = (path: string) => `data:image/png;base64,${readFileSync(path).toString("base64")}`;

let server: RunningServer;
let client: OpenAI;
beforeAll(async () => {
  server = await startServer({ modelPath: modelDir, port: 0, cacheDir: testCacheDir() });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(() => server.close());

const post = (body: string, headers: Record<string, string> = { "content-type": "application/json" }) => fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers, body });
const chat = (content: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ model: "lfmkit-demo", messages: [{ role: "user", content }], temperature: 0, max_tokens: 40, ...extra });

test("the openai client streams a chat with an image and gets what lfm generate prints", async () => {
  const stream = await client.chat.completions.create({
    model: "lfmkit-demo",
    temperature: 0,
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: dataUrl(join(modelDir, imageSample.image!)) } }, { type: "text", text: imageSample.prompt }] }],
  });
  const pieces: string[] = [];
  let finish: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta.content) pieces.push(chunk.choices[0].delta.content);
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  const cli = spawnSync(process.execPath, [join(repoRoot(), "apps", "cli", "dist", "main.js"), "generate", "--model", modelDir, "--image", join(modelDir, imageSample.image!), "--prompt", imageSample.prompt, "--temperature", "0", "--json", "--cache-dir", testCacheDir()], { encoding: "utf8" });
  const printed = JSON.parse(cli.stdout.trim().split("\n").at(-1)!);
  expect(pieces.length).toBeGreaterThan(3);
  expect(pieces.join("")).toBe(printed.text);
  expect(pieces.join("")).toBe(imageSample.text);
  expect(finish).toBe("stop");
  expect(usage?.prompt_tokens).toBe(printed.prompt_ids.length);
  expect(usage?.completion_tokens).toBe(printed.ids.length);
});

test("a non-streamed answer has OpenAI's shape, usage and llama-server's timings", async () => {
  const response = await post(chat(textSamples[0].prompt));
  expect(response.status).toBe(200);
  const body = (await response.json()) as CompletionBody;
  expect(body.object).toBe("chat.completion");
  expect(body.choices[0].message).toMatchObject({ role: "assistant", content: textSamples[0].text });
  expect(body.choices[0].finish_reason).toBe("stop");
  expect(body.usage.total_tokens).toBe(body.usage.prompt_tokens + body.usage.completion_tokens);
  expect(body.timings.predicted_per_second).toBeGreaterThan(0);
});

test("8 concurrent greedy requests each answer exactly what they answer alone", async () => {
  const prompts = Array.from({ length: 8 }, (_, i) => textSamples[i % textSamples.length].prompt);
  const answer = async (prompt: string) => {
    const response = await client.chat.completions.create({ model: "lfmkit-demo", temperature: 0, max_tokens: 30, messages: [{ role: "user", content: prompt }] });
    return response.choices[0].message.content;
  };
  const alone: (string | null)[] = [];
  for (const prompt of prompts) alone.push(await answer(prompt));
  const together = await Promise.all(prompts.map(answer));
  expect(together).toEqual(alone);
});

test("a client that disconnects mid-stream cancels its generation", async () => {
  const before = server.metrics.cancellations;
  const response = await post(chat("Tell me a very long story about the sea.", { stream: true, max_tokens: 2000, temperature: 1, seed: 3 }));
  const reader = response.body!.getReader();
  await reader.read();
  await reader.cancel();
  await expect.poll(() => server.metrics.cancellations, { timeout: 10_000 }).toBe(before + 1);
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  expect(metrics).toMatch(new RegExp(`lfmkit_cancellations_total ${before + 1}`));
});

describe("bad requests get a 4xx with OpenAI's error JSON, and the server keeps serving", () => {
  const cases: [string, () => Promise<Response>, number, RegExp][] = [
    ["malformed JSON", () => post("{not json"), 400, /JSON/],
    ["a wrong type", () => post(JSON.stringify({ model: "lfmkit-demo", messages: "hi" })), 400, /messages/],
    ["no messages", () => post(JSON.stringify({ model: "lfmkit-demo", messages: [] })), 400, /messages/],
    ["a 60 MB body", () => post(JSON.stringify({ model: "lfmkit-demo", messages: [{ role: "user", content: "x".repeat(60 * 1024 * 1024) }] })), 413, /limit/],
    ["an unknown model", () => post(JSON.stringify({ model: "gpt-4o", messages: [{ role: "user", content: "hi" }] })), 404, /gpt-4o/],
    ["an image that is not an image", () => post(chat("", { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: `data:image/png;base64,${Buffer.from("not a picture").toString("base64")}` } }, { type: "text", text: "What is this?" }] }] })), 400, /not an image/],
    ["audio to a model without an audio encoder", () => post(chat("", { messages: [{ role: "user", content: [{ type: "input_audio", input_audio: { data: Buffer.from("RIFF").toString("base64"), format: "wav" } }] }] })), 400, /audio/],
    ["a remote image URL", () => post(chat("", { messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "http://example.com/cat.png" } }] }] })), 400, /network/],
    ["audio output from a model that cannot speak", () => post(chat("hi", { modalities: ["text", "audio"], audio: { format: "wav" } })), 400, /audio/],
  ];
  test.each(cases)("%s", async (_, send, status, message) => {
    const response = await send();
    expect(response.status).toBe(status);
    const body = (await response.json()) as ErrorBody;
    expect(Object.keys(body.error).sort()).toEqual(["code", "message", "param", "type"]);
    expect(body.error.message).toMatch(message);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  });
});

test("models, health and metrics", async () => {
  const models = await client.models.list();
  expect(models.data.map((m) => m.id)).toEqual(["lfmkit-demo"]);
  expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: "ok", model: "lfmkit-demo" });
  const metrics = await (await fetch(`${server.url}/metrics`)).text();
  for (const name of ["lfmkit_requests_total", "lfmkit_completion_tokens_total", "lfmkit_time_to_first_token_seconds_count", "lfmkit_queue_depth", "lfmkit_cancellations_total"]) expect(metrics).toContain(name);
});
