import { appendFileSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { cachedGraph, openSession, ops, ort, type GraphRequest } from "../src/index.js";

const weights = Float32Array.from({ length: 64 * 32 }, (_, i) => Math.sin(i));

function request(cacheDir: string, file: string, format: "f32" | "q8" = "f32"): GraphRequest {
  return {
    key: { test: "linear", format },
    files: [file],
    name: "linear",
    cacheDir,
    build: (g) => {
      const x = g.input("x", "float32", [1, "n", 32]);
      g.output(ops.linear(g, x, { weight: { name: "w", shape: [64, 32], read: () => weights }, format }), "y", "float32", [1, "n", 64]);
    },
  };
}

async function run(path: string): Promise<Float32Array> {
  const session = await openSession(path);
  const out = await session.run({ x: new ort.Tensor("float32", new Float32Array(32).fill(1), [1, 1, 32]) });
  await session.release();
  return out.y.data as Float32Array;
}

test("a graph is built once, reused, and keyed by checkpoint contents and build options", async () => {
  const cacheDir = scratchDir("cache");
  const checkpoint = join(scratchDir("ckpt"), "model.safetensors");
  writeFileSync(checkpoint, "version 1");
  const first = await cachedGraph(request(cacheDir, checkpoint));
  expect(first.built).toBe(true);
  const again = await cachedGraph(request(cacheDir, checkpoint));
  expect(again).toEqual({ path: first.path, built: false, weightFiles: [join(first.path, "..", "graph.onnx.data")] });
  expect((await cachedGraph(request(cacheDir, checkpoint, "q8"))).path).not.toBe(first.path);
  appendFileSync(checkpoint, " changed");
  const changed = await cachedGraph(request(cacheDir, checkpoint));
  expect(changed.built).toBe(true);
  expect(changed.path).not.toBe(first.path);
});

test("a corrupted cache entry is rebuilt, not trusted", async () => {
  const cacheDir = scratchDir("cache");
  const checkpoint = join(scratchDir("ckpt"), "model.safetensors");
  writeFileSync(checkpoint, "weights");
  const first = await cachedGraph(request(cacheDir, checkpoint));
  const expected = await run(first.path);
  const entry = join(first.path, "..");
  expect(readdirSync(entry).sort()).toEqual(["graph.onnx", "graph.onnx.data", "manifest.json"]);
  const data = join(entry, "graph.onnx.data");
  writeFileSync(data, Buffer.alloc(weights.byteLength + 4096, 7));
  const rebuilt = await cachedGraph(request(cacheDir, checkpoint));
  expect(rebuilt.built).toBe(true);
  expect(await run(rebuilt.path)).toEqual(expected);
});

test("an entry edited in place at the same size is rebuilt, though its hash was remembered", async () => {
  const cacheDir = scratchDir("cache");
  const checkpoint = join(scratchDir("ckpt"), "model.safetensors");
  writeFileSync(checkpoint, "weights");
  const first = await cachedGraph(request(cacheDir, checkpoint));
  expect((await cachedGraph(request(cacheDir, checkpoint))).built).toBe(false);
  const data = join(first.path, "..", "graph.onnx.data");
  await new Promise((done) => setTimeout(done, 50)); // file times are kernel-tick coarse: make the edit's differ
  const bytes = readFileSync(data);
  bytes[0] ^= 0xff;
  writeFileSync(data, bytes);
  expect((await cachedGraph(request(cacheDir, checkpoint))).built).toBe(true);
});

test("side files are part of the entry: listed with its weights, verified, and rebuilt when changed", async () => {
  const cacheDir = scratchDir("cache");
  const checkpoint = join(scratchDir("ckpt"), "model.safetensors");
  writeFileSync(checkpoint, "weights");
  const table = Float32Array.from({ length: 12 }, (_, i) => i / 2);
  const withTable: GraphRequest = {
    ...request(cacheDir, checkpoint),
    build: (g) => {
      g.sideFile("table.f32", table);
      request(cacheDir, checkpoint).build(g);
    },
  };
  const first = await cachedGraph(withTable);
  const side = join(first.path, "..", "table.f32");
  expect(first.weightFiles).toEqual([join(first.path, "..", "graph.onnx.data"), side]);
  expect(new Float32Array(new Uint8Array(readFileSync(side)).buffer)).toEqual(table);
  expect(await cachedGraph(withTable)).toEqual({ ...first, built: false });
  writeFileSync(side, Buffer.alloc(table.byteLength));
  expect((await cachedGraph(withTable)).built).toBe(true);
  expect(new Float32Array(new Uint8Array(readFileSync(side)).buffer)).toEqual(table);
});

test("a checkpoint rewritten in place at the same size is rebuilt, even with its modification time set back", async () => {
  const cacheDir = scratchDir("cache");
  const checkpoint = join(scratchDir("ckpt"), "model.safetensors");
  writeFileSync(checkpoint, "weights");
  const first = await cachedGraph(request(cacheDir, checkpoint));
  const { atime, mtime } = statSync(checkpoint);
  await new Promise((done) => setTimeout(done, 50)); // file times are kernel-tick coarse: make the change time differ
  writeFileSync(checkpoint, "WEIGHTS");
  utimesSync(checkpoint, atime, mtime);
  const again = await cachedGraph(request(cacheDir, checkpoint));
  expect(again.built).toBe(true);
  expect(again.path).not.toBe(first.path);
});
