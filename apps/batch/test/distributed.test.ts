/** `lfm batch --queue` and `lfm worker` on a real redis-server, with workers killed mid-job. */
import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { Queue } from "bullmq";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { SHAPES_IMAGE, jsonl, modelArgs, readRecords, runCli, startCli, startRedis, waitForLine, type CliProcess, type RedisServer } from "./helpers.js";

/**
 * Short locks, so that a killed worker's job is taken again within seconds — yet longer than a job
 * keeps a live worker's event loop busy (image preprocessing) on a loaded machine, which would let the
 * lock lapse under a working worker.
 */
const FAST_STALL = ["--lock-duration", "6000", "--stalled-interval", "1000"];

/** A job that keeps a worker busy for most of a second: three images to encode. */
function slowJob(id: string) {
  return { id, prompt: "Describe this image.", images: Array(3).fill("shapes.png"), max_tokens: 16, temperature: 0 };
}

function fastJob(i: number) {
  return { id: `fast-${i}`, prompt: `What does “${["dog", "ocean", "river"][i % 3]}” mean?`, max_tokens: 8, temperature: 0 };
}

function writeInput(dir: string, jobs: object[]): string {
  copyFileSync(SHAPES_IMAGE, join(dir, "shapes.png"));
  const input = join(dir, "jobs.jsonl");
  writeFileSync(input, jsonl(jobs));
  return input;
}

async function jobCount(url: string, queueName: string): Promise<number> {
  const queue = new Queue(queueName, { connection: { url } });
  try {
    const counts = await queue.getJobCounts();
    return Object.values(counts).reduce((a, b) => a + b, 0);
  } finally {
    await queue.close();
  }
}

const started: CliProcess[] = [];
function start(args: string[]): CliProcess {
  const cli = startCli(args);
  started.push(cli);
  return cli;
}

afterAll(() => {
  for (const cli of started) if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill("SIGKILL");
});

describe("one submitter, two workers, one of them killed mid-job", () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(() => redis?.stop());

  test("every id exactly once, the killed job finished by the other worker, the retry in the summary; a second submission enqueues nothing", async () => {
    const dir = scratchDir("batch-queue");
    const ids = ["slow-0", "slow-1", ...Array.from({ length: 20 }, (_, i) => `fast-${i}`)];
    const input = writeInput(dir, [slowJob("slow-0"), slowJob("slow-1"), ...Array.from({ length: 20 }, (_, i) => fastJob(i))]);
    const output = join(dir, "results.jsonl");
    const workerArgs = ["worker", "--queue", redis.url, ...modelArgs, ...FAST_STALL];
    const [doomed, survivor] = [start(workerArgs), start(workerArgs)];
    await Promise.all([waitForLine(doomed, /^ready/), waitForLine(survivor, /^ready/)]);

    const submitter = start(["--input", input, "--output", output, "--queue", redis.url, "--json"]);
    const killedId = (await waitForLine(doomed, /^started /)).slice("started ".length);
    doomed.child.kill("SIGKILL");
    expect(killedId).toMatch(/^slow-/);

    const submitted = await submitter.exited;
    expect(submitted.stderr).not.toMatch(/^lfm batch:/m);
    expect(submitted.code).toBe(0);
    expect(JSON.parse(submitted.stdout.trim())).toMatchObject({ done: 22, failed: 0, skipped: 0, retries: 1 });
    const records = readRecords(output);
    expect(records.map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(records.find((r) => r.id === killedId)).toMatchObject({ text: expect.stringMatching(/circle|square|triangle/) });
    expect(survivor.stdout()).toContain(`finished ${killedId}\n`);
    expect(doomed.stdout()).not.toContain(`finished ${killedId}\n`);

    const jobsInRedis = await jobCount(redis.url, "lfmkit");
    expect(jobsInRedis).toBe(22);
    const again = await runCli(["--input", input, "--output", output, "--queue", redis.url, "--json"]);
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout.trim())).toMatchObject({ done: 0, failed: 0, skipped: 22 });

    // Even into a fresh output, with no worker left, nothing is enqueued or run again: the results are collected from Redis.
    survivor.child.kill("SIGTERM");
    await survivor.exited;
    const fresh = join(dir, "fresh.jsonl");
    const collected = await runCli(["--input", input, "--output", fresh, "--queue", redis.url, "--json"]);
    expect(JSON.parse(collected.stdout.trim())).toMatchObject({ done: 22, failed: 0, skipped: 0 });
    expect(readRecords(fresh).map((r) => r.id).sort()).toEqual([...ids].sort());
    expect(await jobCount(redis.url, "lfmkit")).toBe(jobsInRedis);
  });

  test("a job whose workers keep dying fails for good and becomes an error record", async () => {
    const dir = scratchDir("batch-stalled");
    const input = writeInput(dir, [slowJob("poison")]);
    const output = join(dir, "results.jsonl");
    const workerArgs = ["worker", "--queue", redis.url, "--queue-name", "stalls", ...modelArgs, ...FAST_STALL, "--max-stalled", "0"];
    const first = start(workerArgs);
    await waitForLine(first, /^ready/);
    const submitter = start(["--input", input, "--output", output, "--queue", redis.url, "--queue-name", "stalls", "--json"]);
    await waitForLine(first, /^started poison/);
    first.child.kill("SIGKILL");
    const second = start(workerArgs);

    const submitted = await submitter.exited;
    second.child.kill("SIGTERM");
    expect(submitted.code).toBe(0);
    expect(JSON.parse(submitted.stdout.trim())).toMatchObject({ done: 0, failed: 1 });
    expect(readRecords(output)).toEqual([{ id: "poison", error: { code: "job_failed", message: expect.stringMatching(/stalled more than allowable limit/) } }]);
  });
});

describe("Redis going away", () => {
  test("a worker retries, then exits non-zero with one line", async () => {
    const redis = await startRedis();
    try {
      const worker = start(["worker", "--queue", redis.url, ...modelArgs, "--redis-retry", "2"]);
      await waitForLine(worker, /^ready/);
      await redis.stop();
      const exited = await worker.exited;
      expect(exited.code).toBe(1);
      expect(exited.stderr.trim().split("\n")).toEqual([expect.stringMatching(/^lfm worker: redis:\/\/127\.0\.0\.1:\d+: Redis is unreachable \(gave up after retrying for 2 s: .*ECONNREFUSED/)]);
    } finally {
      await redis.stop();
    }
  });
});
