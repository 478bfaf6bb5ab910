/**
 * LFM2-VL against transformers on every vision-language fixture case: the expanded prompt from the
 * image file, then the model on the reference pixel values (so sharp-vs-PyTorch resampling cannot
 * hide an encoder or splice error), then the whole path from the image file.
 */
import { basename, join } from "node:path";
import { Checkpoint } from "@lfmkit/core";
import { checkpointFixtures, comparableGreedySteps, fixturesRoot, maxAbsDiff, readJson, testCacheDir } from "@lfmkit/testing";
import { TextModel, generate } from "@lfmkit/text";
import { TextTokenizer } from "@lfmkit/tokenizer";
import { VisionEncoder } from "@lfmkit/vision";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { VisionLanguageChat, type ChatEvent } from "../src/index.js";
import { spliceImageFeatures } from "../src/lfm2-vl.js";

interface Case {
  image: string;
  prompt: string;
  generated_ids: number[];
  reference: string;
}

/** The user turn's text after its image placeholder. */
function userText(prompt: string): string {
  return prompt.match(/<\|im_start\|>user\n<image>([\s\S]*?)<\|im_end\|>/)![1];
}

async function finalEvent(events: AsyncIterable<ChatEvent>): Promise<Extract<ChatEvent, { type: "done" }>> {
  let done: ChatEvent | undefined;
  for await (const event of events) done = event;
  if (done?.type !== "done") throw new Error("no done event");
  return done;
}

const fixtures = checkpointFixtures("visionLanguage");
test("vision-language fixtures are present", () => expect(fixtures.length).toBeGreaterThan(0));

describe.each(fixtures)("LFM2-VL %s", (dir) => {
  const cases: Case[] = readJson(join(dir, "reference.json")).cases;
  const imageTokenId: number = readJson(join(dir, "config.json")).image_token_id ?? readJson(join(dir, "config.json")).image_token_index;
  let chat: VisionLanguageChat;
  let decoder: TextModel;
  let encoder: VisionEncoder;
  let tokenizer: TextTokenizer;
  beforeAll(async () => {
    chat = await VisionLanguageChat.load(dir, { cacheDir: testCacheDir() });
    decoder = await TextModel.load(dir, { logits: "all", cacheDir: testCacheDir() });
    encoder = await VisionEncoder.load(dir, { cacheDir: testCacheDir() });
    tokenizer = TextTokenizer.load(dir);
  });
  afterAll(async () => {
    await Promise.all([chat.dispose(), decoder.dispose(), encoder.dispose()]);
  });

  /** The reference prompt with the encoder's features of the reference pixel values spliced in. */
  async function referencePrompt(c: Case) {
    const ref = Checkpoint.openFile(join(dir, c.reference));
    const ids = ref.readInts("input_ids");
    const [tiles, maxPatches] = ref.info("pixel_values").shape;
    const { features } = await encoder.encode({
      pixelValues: ref.readF32("pixel_values"),
      pixelAttentionMask: ref.readInts("pixel_attention_mask"),
      spatialShapes: ref.readInts("spatial_shapes"),
      tiles,
      maxPatches,
    });
    const embeddings = decoder.embed(ids);
    spliceImageFeatures(embeddings, ids, imageTokenId, features, decoder.config.hiddenSize);
    return { ref, ids, embeddings };
  }

  test.each(cases.map((c) => [basename(c.image), c] as const))("%s: prompt logits from the reference pixel values", async (_, c) => {
    const { ref, embeddings } = await referencePrompt(c);
    const { logits } = await decoder.forwardEmbeddings(decoder.newState(), embeddings);
    expect(maxAbsDiff(logits, ref.readF32("logits"))).toBeLessThanOrEqual(1e-3);
  });

  test.each(cases.map((c) => [basename(c.image), c] as const))("%s: greedy ids from the reference pixel values", async (_, c) => {
    const { ref, ids, embeddings } = await referencePrompt(c);
    const logits = ref.readF32("logits");
    const vocab = logits.length / ids.length;
    let done: { ids: number[] } | undefined;
    for await (const event of generate(decoder, tokenizer, { ids, embeddings }, { temperature: 0, maxTokens: c.generated_ids.length, stopTokenIds: [] })) {
      if (event.type === "done") done = event;
    }
    expect(done!.ids).toEqual(c.generated_ids);
    expect(vocab).toBe(decoder.config.vocabSize);
  });

  test.each(cases.map((c) => [basename(c.image), c] as const))("%s: from the image file, the expanded prompt ids and the first generated id", async (_, c) => {
    const ref = Checkpoint.openFile(join(dir, c.reference));
    const messages = [{ role: "user" as const, content: [{ type: "image" as const, image: join(fixturesRoot(), c.image) }, { type: "text" as const, text: userText(c.prompt) }] }];
    const done = await finalEvent(chat.chat(messages, { temperature: 0, maxTokens: 1 }));
    expect(done.promptIds).toEqual(ref.readInts("input_ids"));
    expect(done.ids[0]).toBe(c.generated_ids[0]);
  });
});
