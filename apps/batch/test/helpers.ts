/** The built CLI as a child process, a real redis-server, and the output files' records. */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { createConnection, createServer } from "node:net";
import { join } from "node:path";
import { repoRoot, scratchDir, testCacheDir } from "@lfmkit/testing";

export const DEMO_MODEL = join(repoRoot(), "models", "lfmkit-demo");
export const SHAPES_IMAGE = join(DEMO_MODEL, "example-shapes.png");
const MAIN = join(repoRoot(), "apps", "batch", "dist", "main.js");

/** The model options every local run and worker gets. */
export const modelArgs = ["--model", DEMO_MODEL, "--cache-dir", testCacheDir()];

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A CLI process with its output collected as it comes. */
export interface CliProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<Run>;
}

export function startCli(args: readonly string[]): CliProcess {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk: Buffer) => (stdout += chunk));
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk));
  const exited = new Promise<Run>((resolve) => child.on("close", (code) => resolve({ code, stdout, stderr })));
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

export function runCli(args: readonly string[]): Promise<Run> {
  return startCli(args).exited;
}

/** Resolves with the first stdout line matching `pattern`. */
export async function waitForLine(cli: CliProcess, pattern: RegExp, timeoutMs = 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const line = cli.stdout().split("\n").find((l) => pattern.test(l));
    if (line !== undefined) return line;
    if (Date.now() > deadline) throw new Error(`no line matching ${pattern} within ${timeoutMs} ms; stdout: ${cli.stdout()} stderr: ${cli.stderr()}`);
    if (cli.child.exitCode !== null || cli.child.signalCode !== null) throw new Error(`exited (${cli.child.exitCode ?? cli.child.signalCode}) before a line matching ${pattern}: ${cli.stderr()}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The output's records, parsed; throws on a line that is not JSON (a torn line). */
export function readRecords(path: string): { id: string; text?: string; error?: { message: string; code: string } }[] {
  const text = readFileSync(path, "utf8");
  if (text.length > 0 && !text.endsWith("\n")) throw new Error(`${path} ends in an unterminated line`);
  return text
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line));
}

export function jsonl(jobs: readonly object[]): string {
  return jobs.map((job) => `${JSON.stringify(job)}\n`).join("");
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface RedisServer {
  url: string;
  stop(): Promise<void>;
}

/** A throwaway redis-server on a free port, nothing saved. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = scratchDir("redis");
  const server = spawn("/usr/bin/redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
  const exited = new Promise((resolve) => server.once("exit", resolve));
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`redis-server did not start on port ${port}`);
    await sleep(20);
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      server.kill("SIGKILL");
      await exited;
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: "127.0.0.1" });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
