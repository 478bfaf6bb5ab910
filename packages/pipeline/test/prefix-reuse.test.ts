/** Prefix reuse: a conversation's next turn prefills only its new tokens, and answers exactly as a full prefill does. */
import { join } from "node:path";
import { readJson, repoRoot, testCacheDir } from "@lfmkit/testing";
import { afterAll, beforeAll, expect, test } from "vitest";
import { VisionLanguageChat, type ChatEvent, type ChatModel, type Message } from "../src/index.js";

const dir = join(repoRoot(), "models", "lfmkit-demo");
const reference = readJson<{ samples: { prompt: string; image?: string }[] }>(join(dir, "reference.json")).samples;
const questions = reference.filter((s) => !s.image).map((s) => s.prompt);
const imageSample = reference.find((s) => s.image)!;

async function answer(model: ChatModel, messages: Message[]) {
  let done: Extract<ChatEvent, { type: "done" }> | undefined;
  for await (const event of model.chat(messages, { temperature: 0, maxTokens: 40 })) if (event.type === "done") done = event;
  return done!;
}

/** Plays a conversation turn by turn; returns every turn's final event. */
async function converse(model: ChatModel, first: Message) {
  const messages: Message[] = [first];
  const turns = [];
  for (const question of questions.slice(0, 3)) {
    if (turns.length > 0) messages.push({ role: "user", content: question });
    const done = await answer(model, messages);
    turns.push(done);
    messages.push({ role: "assistant", content: done.text });
  }
  return turns;
}

let reusing: VisionLanguageChat;
let fresh: VisionLanguageChat;
beforeAll(async () => {
  reusing = await VisionLanguageChat.load(dir, { cacheDir: testCacheDir() });
  fresh = await VisionLanguageChat.load(dir, { cacheDir: testCacheDir(), prefixCacheBytes: 0 });
});
afterAll(async () => Promise.all([reusing.dispose(), fresh.dispose()]));

test.each([
  ["text", { role: "user", content: questions[0] }],
  ["image", { role: "user", content: [{ type: "image", image: join(dir, imageSample.image!) }, { type: "text", text: imageSample.prompt }] }],
] as [string, Message][])("a %s conversation: later turns reuse the kept prefix and answer exactly as without reuse", async (_, first) => {
  const [withReuse, without] = [await converse(reusing, first), await converse(fresh, first)];
  withReuse.forEach((turn, i) => {
    expect(turn.ids).toEqual(without[i].ids);
    expect(turn.promptIds).toEqual(without[i].promptIds);
    expect(without[i].usage.cachedPromptTokens).toBe(0);
    if (i > 0) {
      // Everything up to the previous answer is kept: only the new user turn is prefilled.
      expect(turn.usage.cachedPromptTokens).toBe(withReuse[i - 1].promptIds.length + withReuse[i - 1].ids.length);
    }
  });
});

test("an answer that comes back otherwise (edited, or tokenized differently) reuses everything before it, and answers exactly as without reuse", async () => {
  const opening: Message[] = [{ role: "user", content: questions[1] }];
  const first = await answer(reusing, opening);
  const followUp: Message[] = [...opening, { role: "assistant", content: "A different answer." }, { role: "user", content: questions[2] }];
  const [withReuse, without] = [await answer(reusing, followUp), await answer(fresh, followUp)];
  expect(withReuse.ids).toEqual(without.ids);
  expect(withReuse.usage.cachedPromptTokens).toBe(first.promptIds.length);
});

test.each([
  ["text", [{ role: "user", content: questions[2] }, { role: "assistant", content: "Once." }, { role: "user", content: questions[0] }]],
  ["image", [{ role: "user", content: [{ type: "image", image: join(dir, imageSample.image!) }, { type: "text", text: imageSample.prompt }] }]],
] as [string, Message[]][])("a %s prompt asked again (regenerate) prefills nothing: it answers from the logits the prompt ended on, exactly as without reuse", async (_, conversation) => {
  const first = await answer(reusing, conversation);
  const [again, without] = [await answer(reusing, conversation), await answer(fresh, conversation)];
  expect(first.ids).toEqual(without.ids);
  expect(again.ids).toEqual(without.ids);
  expect(again.usage.cachedPromptTokens).toBe(again.usage.promptTokens);
  expect(again.timings.prefillTokensPerSecond).toBe(0);
});

test("a one-token answer keeps its prompt's end as the state's end: asking again answers from it without a rewind", async () => {
  const messages: Message[] = [{ role: "user", content: questions[1] }, { role: "assistant", content: "Twice." }, { role: "user", content: questions[2] }];
  const once = async (model: ChatModel) => {
    let done: Extract<ChatEvent, { type: "done" }> | undefined;
    for await (const event of model.chat(messages, { temperature: 0, maxTokens: 1 })) if (event.type === "done") done = event;
    return done!;
  };
  await once(reusing);
  const [again, without] = [await once(reusing), await once(fresh)];
  expect(again.ids).toEqual(without.ids);
  expect(again.usage.cachedPromptTokens).toBe(again.usage.promptTokens);
});
