/** The default model in models/ (a trained LFM2-VL checkpoint) answering its reference questions about an image. */
import { join } from "node:path";
import { readJson, repoRoot, testCacheDir } from "@lfmkit/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { VisionLanguageChat, type ChatEvent } from "../src/index.js";

const dir = join(repoRoot(), "models", "lfmkit-demo");
const samples = readJson<{ samples: { prompt: string; image?: string; prompt_ids: number[]; ids: number[]; text: string }[] }>(join(dir, "reference.json")).samples.filter(
  (s) => s.image !== undefined,
);

async function answer(model: VisionLanguageChat, sample: (typeof samples)[number]) {
  const messages = [{ role: "user" as const, content: [{ type: "image" as const, image: join(dir, sample.image!) }, { type: "text" as const, text: sample.prompt }] }];
  let done: Extract<ChatEvent, { type: "done" }> | undefined;
  for await (const event of model.chat(messages, { temperature: 0, maxTokens: sample.ids.length + 4 })) if (event.type === "done") done = event;
  return done!;
}

describe("lfmkit-demo image answers", () => {
  let f32: VisionLanguageChat;
  let q8: VisionLanguageChat;
  beforeAll(async () => {
    f32 = await VisionLanguageChat.load(dir, { cacheDir: testCacheDir() });
    q8 = await VisionLanguageChat.load(dir, { weightFormat: "q8", cacheDir: testCacheDir() });
  });
  afterAll(async () => Promise.all([f32.dispose(), q8.dispose()]));

  test("image samples are present", () => expect(samples.length).toBeGreaterThan(0));

  test.each(samples.map((s) => [s.prompt, s] as const))("f32 greedy answer to %s matches the reference", async (_, sample) => {
    const done = await answer(f32, sample);
    expect(done.promptIds).toEqual(sample.prompt_ids);
    expect(done.finishReason).toBe("stop");
    expect([...done.ids, f32.decoder.config.eosTokenIds[0]]).toEqual(sample.ids);
    expect(done.text).toEqual(sample.text);
  });

  test.each(samples.map((s) => [s.prompt, s] as const))("q8 answer to %s (reported, not asserted)", async (_, sample) => {
    const done = await answer(q8, sample);
    console.log(`lfmkit-demo q8 "${sample.prompt}": ${JSON.stringify(done.text)} (reference ${JSON.stringify(sample.text)}) ${done.text === sample.text ? "same" : "differs"}`);
    expect(done.promptIds).toEqual(sample.prompt_ids);
  });
});
