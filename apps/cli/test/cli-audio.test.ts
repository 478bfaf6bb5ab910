/** `lfm generate` on LFM2-Audio, `lfm audio …`, and speech out end to end, as a user runs them (built output). */
import { spawnSync } from "node:child_process";
import { readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readWav } from "@lfmkit/audio";
import { Checkpoint } from "@lfmkit/core";
import { AudioChat } from "@lfmkit/pipeline";
import { TextTokenizer } from "@lfmkit/tokenizer";
import { checkpointFixtures, codecWithCodebookSize, fixturesRoot, maxAbsDiff, readJson, repoRoot, scratchDir, testCacheDir } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";

const bin = join(repoRoot(), "apps", "cli", "dist", "main.js");
const lfm = (...args: string[]) => spawnSync(process.execPath, [bin, ...args, "--cache-dir", testCacheDir()], { encoding: "utf8", timeout: 120_000 });
const lastJson = (stdout: string) => JSON.parse(stdout.trim().split("\n").at(-1)!);
const expectOneLineError = (run: ReturnType<typeof lfm>, pattern: RegExp) => {
  expect(run.status).not.toBe(0);
  expect(run.stderr.trim().split("\n")).toHaveLength(1);
  expect(run.stderr).toMatch(pattern);
};

const audioModels = checkpointFixtures("audioModel");
const codecs = checkpointFixtures("mimi");

interface Case {
  mode: "interleaved" | "sequential";
  system: string;
  max_new_tokens: number;
  steps: ({ text: number } | { audio: number[] })[];
}

describe.each(audioModels)("lfm generate on LFM2-Audio %s", (dir) => {
  const reference = readJson<{ input_wav: string; cases: Case[] }>(join(dir, "reference.json"));
  const wav = join(fixturesRoot(), reference.input_wav);

  test.each(reference.cases.map((c) => [c.mode, c] as const))("%s: every greedy step of the reference", (_, c) => {
    const run = lfm("generate", "--model", dir, "--audio", wav, "--system", c.system, "--mode", c.mode, "--max-tokens", String(c.max_new_tokens), "--temperature", "0", "--json");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    expect(lastJson(run.stdout).steps).toEqual(c.steps);
  });

  test("lfm transcribe (Perform ASR.) prints the text of the reference's sequential run", () => {
    const asr = reference.cases.find((c) => c.mode === "sequential" && c.system === "Perform ASR.");
    if (!asr) return expect(reference.cases.map((c) => c.system)).not.toContain("Perform ASR.");
    const run = lfm("transcribe", "--model", dir, wav, "--max-tokens", String(asr.max_new_tokens), "--json");
    expect(run.stderr).toBe("");
    const ids = asr.steps.flatMap((s) => ("text" in s ? [s.text] : []));
    expect(lastJson(run.stdout).text).toBe(TextTokenizer.load(dir).decode(ids, { skipSpecialTokens: true }).trim());
  });

  describe.each(codecs)("speech out with a codec built from %s", (codecFixture) => {
    // The audio vocabulary: the depthformer's embedding rows, less the end-of-audio code.
    const codecDir = codecWithCodebookSize(codecFixture, Checkpoint.open(dir).info("depth_embeddings.0.embedding.weight").shape[0] - 1);
    const interleaved = reference.cases.find((c) => c.mode === "interleaved")!;
    const generate = (output: string) =>
      lfm("generate", "--model", dir, "--codec", codecDir, "--audio", wav, "--system", interleaved.system, "--mode", "interleaved", "--max-tokens", String(interleaved.max_new_tokens), "--temperature", "0", "--output-audio", output, "--json");

    test("--output-audio writes what lfm audio decode makes of the generated codes, and the stream is the same samples", async () => {
      const out = scratchDir("speech");
      const run = generate(join(out, "answer.wav"));
      expect(run.stderr).toBe("");
      const result = lastJson(run.stdout);
      const endOfAudio = Checkpoint.open(dir).info("depth_embeddings.0.embedding.weight").shape[0] - 1;
      const frames: number[][] = result.steps.flatMap((s: { audio?: number[] }) => (s.audio && !s.audio.includes(endOfAudio) ? [s.audio] : []));
      expect(frames.length).toBeGreaterThan(0);
      const codes = frames[0].map((_, c) => frames.map((f) => f[c]));
      writeFileSync(join(out, "codes.json"), JSON.stringify({ codes }));
      const decode = lfm("audio", "decode", "--model", codecDir, "--codes", join(out, "codes.json"), "--output", join(out, "decoded.wav"));
      expect(decode.stderr).toBe("");
      const [spoken, decoded] = [await readWav(join(out, "answer.wav")), await readWav(join(out, "decoded.wav"))];
      expect(spoken.samples.length).toBe(decoded.samples.length);
      // Both are 16-bit WAVs of float audio that agrees to ~1e-5: at most one step of rounding apart.
      expect(maxAbsDiff(spoken.samples, decoded.samples)).toBeLessThanOrEqual(1 / 32768 + 1e-6);
      expect(result.audio_seconds).toBeCloseTo(decoded.samples.length / decoded.sampleRate, 6);

      const chat = await AudioChat.load(dir, { codec: codecDir, cacheDir: testCacheDir() });
      const chunks: Float32Array[] = [];
      const messages = [{ role: "system" as const, content: interleaved.system }, { role: "user" as const, content: [{ type: "audio" as const, audio: wav }] }];
      for await (const event of chat.chat(messages, { speech: true, temperature: 0, maxTokens: interleaved.max_new_tokens })) if (event.type === "audio") chunks.push(event.samples);
      const oneShot = await chat.codec!.decode({ codebooks: codes.length, frames: frames.length, data: Int32Array.from(codes.flat()) });
      const streamed = Float32Array.from(chunks.flatMap((c) => [...c]));
      expect(maxAbsDiff(streamed, oneShot)).toBeLessThanOrEqual(1e-5);
      await chat.dispose();
    });

    // Random weights never reach <|audio_start|> in the sequential loop within a few steps; interleaved speaks at once.
    test("lfm speak writes its speech", async () => {
      const output = join(scratchDir("speak"), "hello.wav");
      const run = lfm("speak", "--model", dir, "--codec", codecDir, "--text", "Hello there.", "--output", output, "--mode", "interleaved", "--max-tokens", "24", "--seed", "1", "--json");
      expect(run.stderr).toBe("");
      const summary = lastJson(run.stdout);
      const written = await readWav(output);
      expect(written.samples.length / written.sampleRate).toBeCloseTo(summary.audio_seconds, 6);
    });

    test("speech without a codec is refused", () => {
      const run = lfm("generate", "--model", dir, "--audio", wav, "--output-audio", join(scratchDir("speech"), "x.wav"), "--max-tokens", "4");
      expectOneLineError(run, /speech output needs the Mimi codec/);
    });
  });

  describe("bad audio: one line naming the file, non-zero exit, within seconds", () => {
    const source = readFileSync(wav);
    const header = (edit: (b: Buffer) => void) => {
      const copy = Buffer.from(source);
      edit(copy);
      return copy;
    };
    const files: [string, Buffer | string | undefined, RegExp][] = [
      ["missing.wav", undefined, /not found/],
      ["empty.wav", "", /empty/],
      ["truncated.wav", source.subarray(0, 200), /truncated|data/],
      ["lying.wav", header((b) => b.writeUInt32LE(0x7ffffff0, 40)), /header lies about its sizes|truncated/],
      ["silent.wav", header((b) => b.writeUInt32LE(0, 40)).subarray(0, 44), /no samples|zero|empty/],
      ["song.wav", Buffer.concat([Buffer.from("ID3\x04\x00\x00\x00\x00\x00\x00"), Buffer.alloc(64, 0xff)]), /MP3/],
    ];
    test.each(files)("%s", (name, contents, what) => {
      const path = join(scratchDir("bad-wav"), name);
      if (contents !== undefined) writeFileSync(path, contents);
      const started = performance.now();
      const run = lfm("generate", "--model", dir, "--audio", path, "--max-tokens", "2");
      expect(performance.now() - started).toBeLessThan(30_000);
      expectOneLineError(run, what);
      expect(run.stderr).toContain(path);
    });
  });
});

describe("audio asked of models that cannot", () => {
  const text = checkpointFixtures("text")[0];
  const wav = join(fixturesRoot(), readJson(join(audioModels[0], "reference.json")).input_wav);
  test("--mode with a text-only model", () => expectOneLineError(lfm("generate", "--model", text, "--prompt", "hi", "--mode", "interleaved"), /generation mode is LFM2-Audio's/));
  test("--audio with a model that has no audio encoder", () => expectOneLineError(lfm("generate", "--model", text, "--audio", wav), /cannot take audio input/));
});

describe.each(codecs)("lfm audio on %s", (dir) => {
  const reference = Checkpoint.openFile(join(dir, "reference.safetensors"));
  const wav = join(fixturesRoot(), "audio", readdirSync(join(fixturesRoot(), "audio")).find((f) => f.startsWith("chirp"))!);

  test("encode prints the reference codes", () => {
    const run = lfm("audio", "encode", "--model", dir, "--input", wav, "--json");
    expect(run.stderr).toBe("");
    const codes: number[][] = lastJson(run.stdout).codes;
    const [codebooks, frames] = reference.info("audio_codes").shape;
    expect(codes.length).toBe(codebooks);
    expect(codes.flat()).toEqual(reference.readInts("audio_codes").slice(0, codebooks * frames));
  });

  test("decode refuses codes of the wrong shape or out of range, naming the file", () => {
    const out = scratchDir("codes");
    writeFileSync(join(out, "ragged.json"), JSON.stringify({ codes: [[1, 2], [3]] }));
    writeFileSync(join(out, "range.json"), JSON.stringify({ codes: Array.from({ length: reference.info("audio_codes").shape[0] }, () => [0, 999_999]) }));
    expectOneLineError(lfm("audio", "decode", "--model", dir, "--codes", join(out, "ragged.json"), "--output", join(out, "x.wav")), /ragged\.json: every codebook needs the same number of frames/);
    expectOneLineError(lfm("audio", "decode", "--model", dir, "--codes", join(out, "range.json"), "--output", join(out, "x.wav")), /range\.json: code 999999/);
  });
});
