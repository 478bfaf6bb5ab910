import { join } from "node:path";
import { legacyLayoutCopy, readJson, tokenizerFixtures } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";
import { TextTokenizer } from "../src/index.js";

interface EncodeCase {
  text: string;
  ids: number[];
  ids_with_special: number[];
  decoded: string;
}

interface ChatCase {
  messages: never[];
  tools?: unknown[];
  add_generation_prompt: boolean;
  text: string;
  ids: number[];
}

const fixtures = tokenizerFixtures();
test("tokenizer fixtures are present", () => expect(fixtures.length).toBeGreaterThan(0));

for (const fixture of fixtures) {
  const reference = readJson<{ encode: EncodeCase[]; chat: ChatCase[] }>(join(fixture, "reference.json"));
  for (const layout of ["published", "legacy"] as const) {
    describe(`${fixture} (${layout} layout)`, () => {
      const tokenizer = TextTokenizer.load(layout === "published" ? fixture : legacyLayoutCopy(fixture));

      test.each(reference.encode.map((c) => [JSON.stringify(c.text), c] as const))("encode/decode %s", (_, c) => {
        expect(tokenizer.encode(c.text)).toEqual(c.ids);
        expect(tokenizer.encode(c.text, { addSpecialTokens: true })).toEqual(c.ids_with_special);
        expect(tokenizer.decode(c.ids_with_special, { skipSpecialTokens: true })).toEqual(c.decoded);
      });

      test.each(reference.encode.map((c) => [JSON.stringify(c.text), c] as const))("streamed decoding of %s", (_, c) => {
        const decoder = tokenizer.streamDecoder();
        const deltas = c.ids_with_special.map((id) => decoder.push(id));
        deltas.push(decoder.end());
        for (const delta of deltas) expect(delta.isWellFormed()).toBe(true);
        expect(deltas.join("")).toEqual(c.decoded);
        if ([...c.text].some((ch) => new TextEncoder().encode(ch).length > 1)) {
          expect(deltas.filter((d) => d.includes("\uFFFD"))).toEqual([]);
        }
      });

      test.each(reference.chat.map((c, i) => [i, c] as const))("chat template case %i", (_, c) => {
        const text = tokenizer.applyChatTemplate(c.messages, { tools: c.tools, addGenerationPrompt: c.add_generation_prompt });
        expect(text).toEqual(c.text);
        expect(tokenizer.encode(text)).toEqual(c.ids);
      });
    });
  }
}

test("a folder without tokenizer.json is a clear error", () => {
  expect(() => TextTokenizer.load("/nonexistent-model-folder")).toThrow(/tokenizer\.json not found/);
});
