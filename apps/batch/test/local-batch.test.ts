/** `lfm batch` on this machine, as a user runs it: 100 jobs on the demo model, compared with `model.chat` in process. */
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadModel, type ChatModel, type Message } from "@lfmkit/pipeline";
import { scratchDir, testCacheDir } from "@lfmkit/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { DEMO_MODEL, SHAPES_IMAGE, modelArgs, readRecords, runCli } from "./helpers.js";

const WORDS = ["dog", "violin", "ocean", "music", "bread", "river", "teacher", "window", "garden", "mountain"];
const IMAGE_QUESTIONS = ["Describe this image.", "How many shapes are there?", "What shapes do you see?"];

interface GoodJob {
  line: object;
  /** The messages the line stands for, built here independently of the batch code. */
  messages: Message[];
  maxTokens: number;
}

/** 97 answerable jobs: text prompts (some as messages, some with a system prompt) and, one in five, questions about an image. */
function goodJobs(dir: string): GoodJob[] {
  const image = join(dir, "shapes.png");
  return Array.from({ length: 97 }, (_, i): GoodJob => {
    if (i % 10 >= 8) {
      const question = IMAGE_QUESTIONS[i % IMAGE_QUESTIONS.length];
      const line = { id: `image-${i}`, prompt: question, images: ["shapes.png"], max_tokens: 24, temperature: 0 };
      return { line, messages: [{ role: "user", content: [{ type: "image", image }, { type: "text", text: question }] }], maxTokens: 24 };
    }
    const question = `What does “${WORDS[i % WORDS.length]}” mean?`;
    if (i % 10 === 3) {
      const messages: Message[] = [{ role: "user", content: question }];
      return { line: { id: `messages-${i}`, messages, max_tokens: 12, temperature: 0 }, messages, maxTokens: 12 };
    }
    if (i % 10 === 5) {
      const system = "You define words.";
      const line = { id: `system-${i}`, system, prompt: question, max_tokens: 12, temperature: 0 };
      return { line, messages: [{ role: "system", content: system }, { role: "user", content: question }], maxTokens: 12 };
    }
    return { line: { id: `text-${i}`, prompt: question, max_tokens: 12, temperature: 0 }, messages: [{ role: "user", content: question }], maxTokens: 12 };
  });
}

async function answer(model: ChatModel, job: GoodJob): Promise<string> {
  for await (const event of model.chat(job.messages, { maxTokens: job.maxTokens, temperature: 0 })) if (event.type === "done") return event.text;
  throw new Error("no done event");
}

describe("100 jobs, 3 of them broken", () => {
  const dir = scratchDir("batch-local");
  const jobs = goodJobs(dir);
  const output = join(dir, "results.jsonl");
  let model: ChatModel;
  let run: Awaited<ReturnType<typeof runCli>>;
  let malformedLine: number;

  beforeAll(async () => {
    copyFileSync(SHAPES_IMAGE, join(dir, "shapes.png"));
    writeFileSync(join(dir, "notes.png"), "these are notes, not pixels\n");
    const lines = jobs.map((job) => JSON.stringify(job.line));
    lines.splice(10, 0, JSON.stringify({ id: "broken-missing", prompt: "Describe this image.", images: ["nowhere.png"] }));
    lines.splice(50, 0, JSON.stringify({ id: "broken-not-image", prompt: "Describe this image.", images: ["notes.png"] }));
    lines.splice(90, 0, '{"id": "broken-json", "prompt": ');
    malformedLine = 91;
    writeFileSync(join(dir, "jobs.jsonl"), `${lines.join("\n")}\n`);
    [run, model] = await Promise.all([
      runCli(["--input", join(dir, "jobs.jsonl"), "--output", output, ...modelArgs, "--json"]),
      loadModel(DEMO_MODEL, { cacheDir: testCacheDir() }),
    ]);
  });

  afterAll(() => model?.dispose());

  test("exits 0 with a JSON summary of 97 done and 3 failed", () => {
    expect(run.stderr).not.toMatch(/^lfm batch:/m);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
    expect(summary).toMatchObject({ done: 97, failed: 3, skipped: 0, retries: 0, output });
    expect(summary.completion_tokens).toBeGreaterThan(0);
    expect(summary.tokens_per_second).toBeGreaterThan(0);
  });

  test("one record per input line, in input order (concurrency 1), ids matching one to one", () => {
    const expected = jobs.map((j) => (j.line as { id: string }).id);
    expected.splice(10, 0, "broken-missing");
    expected.splice(50, 0, "broken-not-image");
    expected.splice(90, 0, `line-${malformedLine}`);
    expect(readRecords(output).map((r) => r.id)).toEqual(expected);
  });

  test("the broken inputs are error records that say what is wrong", () => {
    const records = new Map(readRecords(output).map((r) => [r.id, r]));
    expect(records.get("broken-missing")).toEqual({ id: "broken-missing", error: { code: "invalid_input", message: expect.stringMatching(/nowhere\.png: file does not exist/) } });
    expect(records.get("broken-not-image")).toEqual({ id: "broken-not-image", error: { code: "invalid_input", message: expect.stringMatching(/notes\.png: not an image/) } });
    expect(records.get(`line-${malformedLine}`)).toEqual({
      id: `line-${malformedLine}`,
      error: { code: "malformed_line", message: expect.stringMatching(new RegExp(`^line ${malformedLine}: not valid JSON`)) },
    });
  });

  test("every answer is what model.chat gives for the same job", async () => {
    const records = new Map(readRecords(output).map((r) => [r.id, r]));
    // Jobs repeat a few distinct questions: each distinct one is asked in process once.
    const expected = new Map<string, string>();
    for (const job of jobs) {
      const key = JSON.stringify([job.messages, job.maxTokens]);
      if (!expected.has(key)) expected.set(key, await answer(model, job));
      const record = records.get((job.line as { id: string }).id)!;
      expect(record).not.toHaveProperty("error");
      expect(record).toMatchObject({ text: expected.get(key), tool_calls: [], audio: null });
    }
    expect(expected.get(JSON.stringify([jobs[0].messages, 12]))).toMatch(/^Dog \(noun\)/);
  });
});
