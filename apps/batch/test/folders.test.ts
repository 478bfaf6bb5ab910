/** The folder shortcuts: `lfm batch caption DIR` and `lfm batch transcribe DIR`. */
import { copyFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readJson, scratchDir } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";
import { transcribeSource } from "../src/folder-jobs.js";
import { DEMO_MODEL, SHAPES_IMAGE, modelArgs, readRecords, runCli } from "./helpers.js";

/** The reference answer of the demo model to a question about example-shapes.png. */
function referenceAnswer(prompt: string): string {
  const samples: { prompt: string; image?: string; text: string }[] = readJson(join(DEMO_MODEL, "reference.json")).samples;
  return samples.find((s) => s.image && s.prompt === prompt)!.text;
}

function folderOf(files: Record<string, string | null>): string {
  const dir = scratchDir("batch-folder");
  for (const [name, contents] of Object.entries(files)) {
    mkdirSync(join(dir, name, ".."), { recursive: true });
    if (contents === null) copyFileSync(SHAPES_IMAGE, join(dir, name));
    else writeFileSync(join(dir, name), contents);
  }
  return dir;
}

describe("caption", () => {
  const dir = folderOf({ "b.png": null, "Z.PNG": null, "sub/a.png": null, "notes.txt": "not an image\n" });

  test("one record per image under the folder, recursive and sorted, ids relative paths", async () => {
    const output = join(scratchDir("batch-captions"), "captions.jsonl");
    const run = await runCli(["caption", dir, "--output", output, "--temperature", "0", ...modelArgs, "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout.trim())).toMatchObject({ done: 3, failed: 0 });
    const records = readRecords(output);
    expect(records.map((r) => r.id)).toEqual(["Z.PNG", "b.png", "sub/a.png"]);
    for (const record of records) expect(record.text).toBe(referenceAnswer("Describe this image."));
  });

  test("--prompt asks another question", async () => {
    const output = join(scratchDir("batch-captions"), "counts.jsonl");
    const run = await runCli(["caption", dir, "--prompt", "How many shapes are there?", "--temperature", "0", "--max-tokens", "16", "--output", output, ...modelArgs]);
    expect(run.code).toBe(0);
    expect(readRecords(output).map((r) => r.text)).toEqual(Array(3).fill(referenceAnswer("How many shapes are there?")));
  });
});

describe("transcribe", () => {
  const dir = folderOf({ "clip.wav": "RIFF", "nested/other.WAV": "RIFF", "cover.png": null });

  test("each WAV file is a job with its audio and the ASR prompt", async () => {
    const jobs = [];
    for await (const job of transcribeSource(dir).entries()) jobs.push(job);
    expect(jobs).toEqual([
      { id: "clip.wav", messages: [{ role: "user", content: [{ type: "audio", audio: join(dir, "clip.wav") }, { type: "text", text: "Perform ASR." }] }], options: {}, response: "text" },
      { id: "nested/other.WAV", messages: [{ role: "user", content: [{ type: "audio", audio: join(dir, "nested/other.WAV") }, { type: "text", text: "Perform ASR." }] }], options: {}, response: "text" },
    ]);
  });

  test("a model without audio input gives an error record per file", async () => {
    const output = join(scratchDir("batch-transcripts"), "transcripts.jsonl");
    const run = await runCli(["transcribe", dir, "--output", output, ...modelArgs, "--json"]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout.trim())).toMatchObject({ done: 0, failed: 2 });
    expect(readRecords(output)).toEqual(
      ["clip.wav", "nested/other.WAV"].map((id) => ({ id, error: { code: "unsupported", message: expect.stringMatching(/cannot take audio input/) } })),
    );
  });
});
