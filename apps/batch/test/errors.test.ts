/** Bad setups end with one line on stderr and a non-zero exit, within seconds: never a crash or a hang. */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { beforeAll, describe, expect, test } from "vitest";
import { freePort, jsonl, modelArgs, runCli } from "./helpers.js";

describe("bad setups", () => {
  const dir = scratchDir("batch-errors");
  const input = join(dir, "jobs.jsonl");
  const output = join(dir, "results.jsonl");
  let closedPort: number;

  beforeAll(async () => {
    writeFileSync(input, jsonl([{ id: "q1", prompt: "What does “dog” mean?", max_tokens: 4 }]));
    writeFileSync(join(dir, "foreign.jsonl"), "id,text\nq1,hello\n");
    mkdirSync(join(dir, "a-folder"));
    closedPort = await freePort();
  });

  const cases: [string, () => string[], RegExp][] = [
    ["a missing input file", () => ["--input", join(dir, "missing.jsonl"), "--output", output, ...modelArgs], /^lfm batch: .*missing\.jsonl: cannot read the input: no such file or folder$/],
    ["an input that is a folder", () => ["--input", dir, "--output", output, ...modelArgs], /cannot read the input: it is a folder$/],
    ["an output folder that does not exist", () => ["--input", input, "--output", join(dir, "nowhere", "r.jsonl"), ...modelArgs], /nowhere\/r\.jsonl: cannot write the output: no such file or folder$/],
    ["an output under a file", () => ["--input", input, "--output", join(input, "r.jsonl"), ...modelArgs], /cannot write the output: not a folder$/],
    ["an output that is a folder", () => ["--input", input, "--output", join(dir, "a-folder"), ...modelArgs], /cannot write the output: it is a folder$/],
    ["an output that is not a results file", () => ["--input", input, "--output", join(dir, "foreign.jsonl"), ...modelArgs], /foreign\.jsonl: line 1 is not a result record/],
    ["a missing model folder", () => ["--input", input, "--output", output, "--model", join(dir, "no-model")], /no-model: no such file or folder$/],
    ["neither --model nor --queue", () => ["--input", input, "--output", output], /give --model to run the jobs here, or --queue/],
    ["--model with --queue", () => ["--input", input, "--output", output, ...modelArgs, "--queue", "redis://127.0.0.1:1"], /--model does not apply with --queue/],
    ["a queue URL that is not Redis", () => ["--input", input, "--output", output, "--queue", "http://127.0.0.1:6379"], /must be a redis:\/\/ or rediss:\/\/ URL$/],
    ["an unreachable Redis", () => ["--input", input, "--output", output, "--queue", `redis://127.0.0.1:${closedPort}`, "--redis-retry", "1"], /^lfm batch: redis:\/\/127\.0\.0\.1:\d+: Redis is unreachable .*ECONNREFUSED/],
    ["a worker on an unreachable Redis", () => ["worker", "--queue", `redis://127.0.0.1:${closedPort}`, ...modelArgs, "--redis-retry", "1"], /^lfm worker: redis:\/\/127\.0\.0\.1:\d+: Redis is unreachable/],
    ["a caption folder that does not exist", () => ["caption", join(dir, "no-pictures"), "--output", output, ...modelArgs], /no-pictures: cannot read the folder: no such file or folder$/],
  ];

  test.each(cases)("%s", async (_, args, pattern) => {
    const started = performance.now();
    const run = await runCli(args());
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(run.code).not.toBe(0);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(pattern);
  });
});
