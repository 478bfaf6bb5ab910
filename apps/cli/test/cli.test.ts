/** The `lfm` binary as a user runs it (built output), against the fixtures. */
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Checkpoint } from "@lfmkit/core";
import { comparableGreedySteps, readJson, repoRoot, scratchDir, testCacheDir, textFixtures } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";

const bin = join(repoRoot(), "apps", "cli", "dist", "main.js");

function lfm(...args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args, "--cache-dir", testCacheDir()], { encoding: "utf8" });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function lastJson(stdout: string) {
  return JSON.parse(stdout.trim().split("\n").at(-1)!);
}

describe.each(textFixtures())("lfm generate on %s", (dir) => {
  const reference = readJson(join(dir, "reference.json"));
  const count = reference.generated_ids.length;

  test("--prompt-ids greedy prints the reference ids", () => {
    // The reference continues greedily without stopping at end-of-sequence tokens.
    const run = lfm("generate", "--model", dir, "--prompt-ids", reference.prompt_ids.join(","), "--max-tokens", String(count), "--temperature", "0", "--ignore-eos", "--json");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const out = lastJson(run.stdout);
    expect(out.prompt_ids).toEqual(reference.prompt_ids);
    const stepLogits = Checkpoint.openFile(join(dir, "reference.safetensors")).readF32("step_logits");
    const comparable = comparableGreedySteps(stepLogits, stepLogits.length / count);
    expect(out.ids).toHaveLength(count);
    expect(out.ids.slice(0, comparable)).toEqual(reference.generated_ids.slice(0, comparable));
    expect(Object.keys(out.usage)).toEqual(["promptTokens", "cachedPromptTokens", "completionTokens", "totalTokens"]);
  });

  if (typeof reference.prompt === "string") {
    test("--prompt goes through the chat template to the reference prompt ids", () => {
      const user = reference.prompt.match(/<\|im_start\|>user\n([\s\S]*?)<\|im_end\|>/)![1];
      const run = lfm("generate", "--model", dir, "--prompt", user, "--max-tokens", String(count), "--temperature", "0", "--ignore-eos", "--json");
      expect(run.code).toBe(0);
      const out = lastJson(run.stdout);
      expect(out.prompt_ids).toEqual(reference.prompt_ids);
      const stepLogits = Checkpoint.openFile(join(dir, "reference.safetensors")).readF32("step_logits");
      const comparable = comparableGreedySteps(stepLogits, stepLogits.length / count);
      expect(out.ids.slice(0, comparable)).toEqual(reference.generated_ids.slice(0, comparable));
      if (comparable === count && typeof reference.generated_text === "string") expect(out.text).toEqual(reference.generated_text);
    });
  }
});

// Fixture folders may hold symbolic links (legacy-layout copies do): copies are dereferenced so that
// damaging a copy can never write through to the shared fixtures.
describe("bad input: one line on stderr, non-zero exit", () => {
  const fixture = textFixtures()[0];
  const expectOneLineError = (run: ReturnType<typeof lfm>, pattern: RegExp) => {
    expect(run.code).not.toBe(0);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(pattern);
  };

  test("truncated safetensors", () => {
    const dir = scratchDir("cli");
    cpSync(fixture, dir, { recursive: true, dereference: true });
    truncateSync(join(dir, "model.safetensors"), readFileSync(join(dir, "model.safetensors")).length - 64);
    expectOneLineError(lfm("generate", "--model", dir, "--prompt", "hi"), /model\.safetensors: tensor .*truncated/);
  });

  test("unknown model_type", () => {
    const dir = scratchDir("cli");
    cpSync(fixture, dir, { recursive: true, dereference: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...readJson(join(fixture, "config.json")), model_type: "gpt9" }));
    expectOneLineError(lfm("generate", "--model", dir, "--prompt", "hi"), /unknown model_type "gpt9"/);
  });

  test("prompt longer than max_position_embeddings", () => {
    const limit = readJson(join(fixture, "config.json")).max_position_embeddings;
    const ids = Array.from({ length: limit + 1 }, () => 5).join(",");
    expectOneLineError(lfm("generate", "--model", fixture, "--prompt-ids", ids), new RegExp(`prompt has ${limit + 1} tokens but the model's context is ${limit}`));
  });

  test("missing tokenizer", () => {
    const dir = scratchDir("cli");
    for (const f of ["config.json", "model.safetensors"]) copyFileSync(join(fixture, f), join(dir, f));
    expectOneLineError(lfm("generate", "--model", dir, "--prompt", "hi"), /tokenizer\.json not found/);
    rmSync(dir, { recursive: true });
  });

  test("conflicting prompt options", () => {
    expectOneLineError(lfm("generate", "--model", fixture, "--prompt", "a", "--raw", "b"), /exactly one of --prompt \(or --audio\), --raw or --prompt-ids/);
  });
});
