/** A local run killed with SIGKILL at any moment and started again ends with every id exactly once. */
import { readFileSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";
import { jsonl, modelArgs, readRecords, runCli, sleep, startCli } from "./helpers.js";

const JOBS = 30;
const WORDS = ["dog", "violin", "ocean", "music", "bread", "river"];

function writeJobs(dir: string): string {
  const input = join(dir, "jobs.jsonl");
  writeFileSync(input, jsonl(Array.from({ length: JOBS }, (_, i) => ({ id: `q${i}`, prompt: `What does “${WORDS[i % WORDS.length]}” mean?`, max_tokens: 8, temperature: 0 }))));
  return input;
}

/** Records in the file so far (complete lines). */
function recordCount(path: string): number {
  try {
    return readFileSync(path, "utf8").split("\n").length - 1;
  } catch {
    return 0;
  }
}

function expectEveryIdOnce(output: string): void {
  const ids = readRecords(output).map((r) => r.id);
  expect([...ids].sort()).toEqual(Array.from({ length: JOBS }, (_, i) => `q${i}`).sort());
}

describe("resuming after SIGKILL", () => {
  test("killed 5 times at different points, then run to the end: every id exactly once, no torn line", async () => {
    const dir = scratchDir("batch-resume");
    const input = writeJobs(dir);
    const output = join(dir, "results.jsonl");
    // Two jobs in flight at any time, so that kills also land between two records of one moment.
    const args = ["--input", input, "--output", output, ...modelArgs, "--concurrency", "2"];
    // Records on disk when the kill is sent (0: while the model loads), each point plus a random delay.
    for (const point of [0, 4, 10, 17, 24]) {
      const cli = startCli(args);
      const deadline = Date.now() + 60_000;
      while (recordCount(output) < point && cli.child.exitCode === null && Date.now() < deadline) await sleep(5);
      await sleep(Math.random() * (point === 0 ? 800 : 60));
      cli.child.kill("SIGKILL");
      const killed = await cli.exited;
      expect(killed.stderr).not.toMatch(/^lfm batch:(?! dropped)/m);
      expect(recordCount(output)).toBeLessThan(JOBS);
    }
    const before = new Set(readFileSync(output, "utf8").split("\n").slice(0, -1).map((line) => JSON.parse(line).id)).size;
    const last = await runCli([...args, "--json"]);
    expect(last.code).toBe(0);
    const summary = JSON.parse(last.stdout.trim());
    expect(summary.skipped).toBe(before);
    expect(summary.done + summary.failed).toBe(JOBS - before);
    expectEveryIdOnce(output);
    expect(readRecords(output).every((r) => r.error === undefined)).toBe(true);
  });

  test("a torn last line is dropped and its job runs again", async () => {
    const dir = scratchDir("batch-torn");
    const input = writeJobs(dir);
    const output = join(dir, "results.jsonl");
    const args = ["--input", input, "--output", output, ...modelArgs, "--json"];
    expect((await runCli(args)).code).toBe(0);
    const whole = readFileSync(output, "utf8");
    const lastLine = whole.slice(whole.lastIndexOf("\n", whole.length - 2) + 1);
    const tornId = JSON.parse(lastLine).id;
    truncateSync(output, whole.length - Math.floor(lastLine.length / 2));

    const resumed = await runCli(args);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/^lfm batch: dropped the unfinished last line of .*results\.jsonl/m);
    expect(JSON.parse(resumed.stdout.trim())).toMatchObject({ done: 1, failed: 0, skipped: JOBS - 1 });
    expectEveryIdOnce(output);
    expect(readRecords(output).at(-1)!.id).toBe(tornId);
  });
});
