/** A conversation's prompt tokenized from its remembered history equals tokenizing it whole. */
import { join } from "node:path";
import { checkpointFixtures, repoRoot } from "@lfmkit/testing";
import { TextTokenizer } from "@lfmkit/tokenizer";
import { expect, test } from "vitest";
import { PromptTokens } from "../src/prompt-tokens.js";

const folders = [join(repoRoot(), "models", "lfmkit-demo"), ...checkpointFixtures("text").slice(0, 1)];

test.each(folders)("every turn of a growing conversation on %s", (dir) => {
  const tokenizer = TextTokenizer.load(dir);
  const tokens = new PromptTokens(tokenizer);
  const questions = ["What does “dog” mean?", "Define ocean.\n\nPlease be brief!", "  spaces  and\ttabs ", "Ünïcödé — ok? 你好", "x"];
  const answers = ["Dog (noun): an animal.", "\nOcean: water.  ", "assistant", "<|im_start|> is not special here? ", ""];
  const messages: { role: string; content: string }[] = [{ role: "system", content: "Answer briefly." }];
  questions.forEach((question, turn) => {
    messages.push({ role: "user", content: question });
    const text = tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
    expect(tokens.encode(text), `turn ${turn}`).toEqual(tokenizer.encode(text));
    messages.push({ role: "assistant", content: answers[turn] });
  });
});
