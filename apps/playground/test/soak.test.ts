/**
 * Soak: 8 concurrent streaming clients for two minutes (LFMKIT_SOAK_SECONDS) against the playground
 * started as its own process on the demo model, with random disconnects. Loopback only; every loop is
 * bounded in time. No server error, every completed stream well-formed, and memory flat once warm.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { readJson, repoRoot, testCacheDir } from "@lfmkit/testing";
import { afterAll, beforeAll, expect, test } from "vitest";

const SOAK_SECONDS = Number(process.env.LFMKIT_SOAK_SECONDS ?? 120);
const CLIENTS = 8;
/** A small prefix-cache budget, so that warm-up fills it and the soak measures memory at its bound. */
const PREFIX_CACHE_MB = 4;
const WARM_UP_SECONDS = 60;

const modelDir = join(repoRoot(), "models", "lfmkit-demo");
const questions = readJson<{ samples: { prompt: string; image?: string }[] }>(join(modelDir, "reference.json")).samples.filter((s) => !s.image).map((s) => s.prompt);

let server: ChildProcess;
let url: string;

beforeAll(async () => {
  const main = join(repoRoot(), "apps", "playground", "dist", "main.js");
  server = spawn(process.execPath, [main, "--model", modelDir, "--port", "0", "--cache-dir", testCacheDir(), "--prefix-cache-mb", String(PREFIX_CACHE_MB)], { stdio: ["ignore", "pipe", "pipe"] });
  url = await new Promise<string>((resolve, reject) => {
    let out = "";
    server.stdout!.on("data", (chunk: Buffer) => {
      out += chunk;
      const found = out.match(/http:\/\/127\.0\.0\.1:\d+/);
      if (found) resolve(found[0]);
    });
    server.on("exit", (code) => reject(new Error(`the server exited (${code})`)));
  });
}, 120_000);

afterAll(async () => {
  if (server.exitCode === null) {
    server.kill("SIGTERM");
    await new Promise((resolve) => server.once("exit", resolve));
  }
});

function rssBytes(): number {
  const status = readFileSync(`/proc/${server.pid}/status`, "utf8");
  return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]) * 1024;
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(text.match(new RegExp(`^${name} (\\S+)$`, "m"))![1]);
}

interface Tally {
  completed: number;
  disconnected: number;
  errors: string[];
}

/** One streaming request; sometimes hangs up after a few chunks. Checks the stream's form when it completes. */
async function request(client: number, n: number, tally: Tally): Promise<void> {
  const hangUpAfter = Math.random() < 0.25 ? 1 + Math.floor(Math.random() * 5) : Infinity;
  const controller = new AbortController();
  const timeout = setTimeout(() => controller.abort(new Error("request over 60 s")), 60_000);
  try {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: "POST",
      signal: controller.signal,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        model: "lfmkit-demo",
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: 8 + Math.floor(Math.random() * 56),
        temperature: Math.random() < 0.5 ? 0 : 0.8,
        seed: client * 100_000 + n,
        messages: [{ role: "user", content: `${questions[(client + n) % questions.length]} (${n})` }],
      }),
    });
    if (response.status !== 200) {
      tally.errors.push(`status ${response.status}: ${await response.text()}`);
      return;
    }
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    for (let chunks = 0; ; chunks++) {
      if (chunks >= hangUpAfter) {
        controller.abort(new Error("hung up on purpose"));
        tally.disconnected++;
        return;
      }
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const problem = malformed(text);
    if (problem) tally.errors.push(problem);
    else tally.completed++;
  } catch (error) {
    if (!controller.signal.aborted || String(controller.signal.reason).includes("over 60 s")) tally.errors.push(`request failed: ${(error as Error).message}`);
  } finally {
    clearTimeout(timeout);
  }
}

/** Why an SSE body is not a well-formed chat completion stream, or undefined when it is. */
function malformed(body: string): string | undefined {
  const events = body.split("\n\n").filter(Boolean);
  if (events.at(-1) !== "data: [DONE]") return "the stream does not end with [DONE]";
  const chunks = events.slice(0, -1).map((e) => (e.startsWith("data: ") ? JSON.parse(e.slice(6)) : { malformed: e }));
  if (chunks.some((c) => c.error || c.malformed)) return `error or malformed event: ${JSON.stringify(chunks.find((c) => c.error || c.malformed))}`;
  if (new Set(chunks.map((c) => c.id)).size !== 1 || chunks.some((c) => c.object !== "chat.completion.chunk")) return "chunks of different completions";
  if (chunks[0].choices[0].delta.role !== "assistant") return "the first chunk does not open the assistant's turn";
  const finishes = chunks.filter((c) => c.choices[0]?.finish_reason);
  if (finishes.length !== 1) return `${finishes.length} finishing chunks`;
  if (!chunks.at(-1).usage) return "no usage chunk";
  return undefined;
}

/** Every client sends requests one after another until the deadline, or until `enough` says so. */
async function run(seconds: number, tally: Tally, enough?: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  let stop = false;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let n = 0; !stop && Date.now() < deadline; n++) {
        await request(client, n, tally);
        if (enough && client === 0 && (await enough())) stop = true;
      }
    }),
  );
}

test(
  `${CLIENTS} streaming clients for ${SOAK_SECONDS} s with random disconnects`,
  async () => {
    // Warm-up runs the same traffic for a minute, and on until the kept states fill most of their budget
    // (two minutes at most): measured, the server's RSS levels off after about a minute of this traffic.
    const warm: Tally = { completed: 0, disconnected: 0, errors: [] };
    const budget = PREFIX_CACHE_MB * 1024 * 1024;
    const warmedAt = Date.now() + WARM_UP_SECONDS * 1000;
    await run(2 * WARM_UP_SECONDS, warm, async () => Date.now() > warmedAt && (await metric("lfmkit_kept_state_bytes")) > 0.9 * budget);
    expect(await metric("lfmkit_kept_state_bytes")).toBeGreaterThan(0.9 * budget);
    const rssWarm = rssBytes();

    const soak: Tally = { completed: 0, disconnected: 0, errors: [] };
    await run(SOAK_SECONDS, soak);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const rssAfter = rssBytes();
    const cancellations = await metric("lfmkit_cancellations_total");
    console.log(
      `soak: ${soak.completed} completed, ${soak.disconnected} disconnected, ${soak.errors.length} errors; RSS ${(rssWarm / 1e6).toFixed(0)} MB after warm-up, ${(rssAfter / 1e6).toFixed(0)} MB after (${(((rssAfter - rssWarm) / rssWarm) * 100).toFixed(1)} %); ${cancellations} cancellations`,
    );
    expect([...warm.errors, ...soak.errors]).toEqual([]);
    expect(soak.completed).toBeGreaterThan(CLIENTS);
    expect(soak.disconnected).toBeGreaterThan(0);
    expect(cancellations).toBeGreaterThan(0);
    expect(Math.abs(rssAfter - rssWarm) / rssWarm).toBeLessThanOrEqual(0.1);
    expect(await metric("lfmkit_queue_depth")).toBeLessThanOrEqual(1);
  },
  (SOAK_SECONDS + 2 * WARM_UP_SECONDS + 120) * 1000,
);
