/** Batch jobs on an LFM2-Audio model: a folder transcribed, and speech answers written as WAV files. */
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readWav } from "@lfmkit/audio";
import { Checkpoint } from "@lfmkit/core";
import { checkpointFixtures, codecWithCodebookSize, fixturesRoot, readJson, scratchDir, testCacheDir } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";
import { readRecords, runCli } from "./helpers.js";

const dir = checkpointFixtures("audioModel")[0];
const wav = join(fixturesRoot(), readJson(join(dir, "reference.json")).input_wav);

describe("LFM2-Audio in batch jobs", () => {
  test("transcribe DIR: one text record per WAV", async () => {
    const work = scratchDir("batch-audio");
    const calls = join(work, "calls");
    mkdirSync(join(calls, "monday"), { recursive: true });
    symlinkSync(wav, join(calls, "first.wav"));
    symlinkSync(wav, join(calls, "monday", "second.wav"));
    const output = join(work, "transcripts.jsonl");
    const run = await runCli(["transcribe", calls, "--model", dir, "--cache-dir", testCacheDir(), "--output", output, "--max-tokens", "12"]);
    expect(run.stderr).toBe("");
    const records = readRecords(output);
    expect(records.map((r) => r.id)).toEqual(["first.wav", "monday/second.wav"]);
    expect(records.every((r) => typeof r.text === "string" && r.text.length > 0)).toBe(true);
    expect(records[0].text).toBe(records[1].text);
  });

  test('response "speech": the answer\'s WAV is written and named in the record', async () => {
    const work = scratchDir("batch-speech");
    const model = join(work, "model");
    mkdirSync(model);
    for (const name of ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "chat_template.jinja"]) symlinkSync(join(dir, name), join(model, name));
    // A codec with codebooks as large as the audio vocabulary (the tiny one has its own config: --codec).
    const codec = codecWithCodebookSize(checkpointFixtures("mimi")[0], Checkpoint.open(dir).info("depth_embeddings.0.embedding.weight").shape[0] - 1);
    const messages = [
      { role: "system", content: "Respond with interleaved text and audio." },
      { role: "user", content: [{ type: "audio", audio: wav }] },
    ];
    writeFileSync(join(work, "jobs.jsonl"), `${JSON.stringify({ id: "answer-1", messages, max_tokens: 24, temperature: 0, response: "speech" })}\n`);
    const output = join(work, "results.jsonl");
    const run = await runCli(["--input", join(work, "jobs.jsonl"), "--output", output, "--model", model, "--codec", codec, "--cache-dir", testCacheDir()]);
    expect(run.stderr).toBe("");
    const [record] = readRecords(output) as { id: string; audio?: string; error?: unknown }[];
    expect(record.error).toBeUndefined();
    expect(record.audio).toBe(join(work, "results-audio", "answer-1.wav"));
    expect((await readWav(record.audio!)).samples.length).toBeGreaterThan(0);
  });
});
