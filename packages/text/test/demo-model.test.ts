/** The default model committed in models/: a trained LFM2-VL checkpoint whose text side runs here. */
import { join } from "node:path";
import { argmax } from "@lfmkit/core";
import { readJson, repoRoot, testCacheDir } from "@lfmkit/testing";
import { TextTokenizer } from "@lfmkit/tokenizer";
import { describe, expect, test } from "vitest";
import { TextModel, generate, type GenerationEvent, type LoadOptions } from "../src/index.js";

const dir = join(repoRoot(), "models", "lfmkit-demo");
const samples = readJson<{ samples: { prompt: string; image?: string; prompt_ids: number[]; ids: number[]; text: string }[] }>(
  join(dir, "reference.json"),
).samples.filter((s) => s.image === undefined);
const tokenizer = TextTokenizer.load(dir);

async function greedy(model: TextModel, promptIds: number[], maxTokens: number) {
  for await (const event of generate(model, tokenizer, promptIds, { temperature: 0, maxTokens })) {
    if (event.type === "done") return event;
  }
  throw new Error("generation ended without a done event");
}

const load = (options: LoadOptions) => TextModel.load(dir, { cacheDir: testCacheDir(), ...options });

describe("lfmkit-demo text answers", () => {
  test("text samples are present", () => expect(samples.length).toBeGreaterThan(0));

  test.each(samples.map((s) => [s.prompt, s] as const))("f32 greedy answer to %s matches the reference", async (_, sample) => {
    const promptText = tokenizer.applyChatTemplate([{ role: "user", content: sample.prompt }], { addGenerationPrompt: true });
    expect(tokenizer.encode(promptText)).toEqual(sample.prompt_ids);
    const model = await load({});
    const done = await greedy(model, sample.prompt_ids, sample.ids.length + 4);
    expect(done.finishReason).toBe("stop");
    expect([...done.ids, model.config.eosTokenIds[0]]).toEqual(sample.ids);
    expect(done.text).toEqual(sample.text);
    await model.dispose();
  });

  /**
   * Quantized loads against f32 along the reference answers (teacher-forced): the share of steps
   * whose top-1 token is the same. Bounds are set from measurement on this model (q8 0.985, q4 0.892
   * at accuracy level 4, token rows stored at the weights' bits): some steps of its weaker answers have f32 margins below 0.1, which 8-bit
   * weight rounding already flips (free-running q8 reproduces 4 of its 5 answers exactly).
   */
  test.each([
    ["q8", 0.95],
    ["q4", 0.85],
  ] as const)("%s top-1 agreement with f32 along the reference answers is at least %d", async (dtype, bound) => {
    const [exact, approx] = [await load({ logits: "all" }), await load({ weightFormat: dtype, logits: "all" })];
    let agree = 0;
    let total = 0;
    for (const sample of samples) {
      const sequence = [...sample.prompt_ids, ...sample.ids.slice(0, -1)];
      const [a, b] = [await exact.forward(exact.newState(), sequence), await approx.forward(approx.newState(), sequence)];
      const vocab = exact.config.vocabSize;
      for (let row = sample.prompt_ids.length - 1; row < sequence.length; row++) {
        total++;
        if (argmax(a.logits.subarray(row * vocab, (row + 1) * vocab)) === argmax(b.logits.subarray(row * vocab, (row + 1) * vocab))) agree++;
      }
    }
    console.log(`lfmkit-demo ${dtype} top-1 agreement with f32: ${agree}/${total} = ${(agree / total).toFixed(3)}`);
    expect(agree / total).toBeGreaterThanOrEqual(bound);
    await exact.dispose();
    await approx.dispose();
  });

  test("a stop string ends generation before it, and the streamed deltas add up to the final text", async () => {
    const sample = samples[0];
    const stop = sample.text.slice(sample.text.indexOf("(") , sample.text.indexOf(")") + 1);
    expect(stop.length).toBeGreaterThan(1);
    const model = await load({});
    let streamed = "";
    let done: GenerationEvent | undefined;
    for await (const event of generate(model, tokenizer, sample.prompt_ids, { temperature: 0, maxTokens: sample.ids.length + 4, stop: [stop] })) {
      if (event.type === "token") streamed += event.text;
      else done = event;
    }
    expect(done?.type === "done" && done.finishReason).toBe("stop");
    expect(done?.type === "done" && done.text).toBe(sample.text.slice(0, sample.text.indexOf(stop)));
    expect(streamed).toBe(done?.type === "done" ? done.text : undefined);
    await model.dispose();
  });

  test("aborting the signal rejects the iteration with its reason", async () => {
    const model = await load({});
    const controller = new AbortController();
    const tokens: number[] = [];
    const run = async () => {
      for await (const event of generate(model, tokenizer, samples[0].prompt_ids, { temperature: 0, maxTokens: 50, signal: controller.signal })) {
        if (event.type === "token") {
          tokens.push(event.id);
          controller.abort(new Error("stopped by the test"));
        }
      }
    };
    await expect(run()).rejects.toThrow("stopped by the test");
    expect(tokens).toHaveLength(1);
    await model.dispose();
  });

  test("answering again from a prompt's end (promptLogits) gives the same answer every time, with a repetition penalty, and leaves those logits as they were", async () => {
    const sample = samples[0];
    const model = await load({});
    const settings = { temperature: 0, repetitionPenalty: 1.3, maxTokens: sample.ids.length + 4 };
    const answer = async (options: object) => {
      for await (const event of generate(model, tokenizer, sample.prompt_ids, { ...settings, ...options })) if (event.type === "done") return event;
      throw new Error("generation ended without a done event");
    };
    const first = await answer({});
    const promptLogits = first.promptEnd.logits.slice();
    const again = [];
    for (let i = 0; i < 2; i++) {
      first.state.rewind(first.promptEnd);
      again.push(await answer({ state: first.state, promptLogits: first.promptEnd.logits }));
    }
    for (const done of again) {
      expect(done.ids).toEqual(first.ids);
      expect(done.usage.cachedPromptTokens).toBe(sample.prompt_ids.length);
    }
    expect(first.promptEnd.logits).toEqual(promptLogits);
    await model.dispose();
  });
});
