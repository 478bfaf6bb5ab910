/** `lfm generate --image` as a user runs it (built output), on the vision-language fixtures. */
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { Checkpoint } from "@lfmkit/core";
import { checkpointFixtures, fixturesRoot, readJson, repoRoot, scratchDir, testCacheDir } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";

const bin = join(repoRoot(), "apps", "cli", "dist", "main.js");
const lfm = (...args: string[]) => spawnSync(process.execPath, [bin, ...args, "--cache-dir", testCacheDir()], { encoding: "utf8", timeout: 60_000 });
const fixtures = checkpointFixtures("visionLanguage");

describe.each(fixtures)("lfm generate --image on %s", (dir) => {
  const cases: { image: string; prompt: string; generated_ids: number[]; reference: string }[] = readJson(join(dir, "reference.json")).cases;

  test.each(cases.map((c) => [c.image, c] as const))("%s: the expanded prompt ids and the first greedy id", (_, c) => {
    const text = c.prompt.match(/<\|im_start\|>user\n<image>([\s\S]*?)<\|im_end\|>/)![1];
    const run = lfm("generate", "--model", dir, "--image", join(fixturesRoot(), c.image), "--prompt", text, "--max-tokens", "1", "--temperature", "0", "--json");
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    const out = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
    expect(out.prompt_ids).toEqual(Checkpoint.openFile(join(dir, c.reference)).readInts("input_ids"));
    expect(out.ids[0]).toBe(c.generated_ids[0]);
  });
});

describe("bad images: one line naming the file, non-zero exit, within seconds", () => {
  const dir = fixtures[0];
  const source = readFileSync(join(fixturesRoot(), readJson(join(dir, "reference.json")).cases[0].image));
  const scratch = scratchDir("bad-images");
  /** The fixture PNG with its header rewritten to declare another size (CRC recomputed). */
  const declaring = (width: number, height: number) => {
    const png = Buffer.from(source);
    png.writeUInt32BE(width, 16);
    png.writeUInt32BE(height, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
    return png;
  };
  const files: [string, Buffer | string | undefined, RegExp][] = [
    ["missing.png", undefined, /does not exist/],
    ["empty.png", "", /empty/],
    ["notes.png", "these are notes, not pixels\n", /not an image/],
    ["truncated.png", source.subarray(0, source.length >> 1), /truncated|corrupt/],
    ["zero.png", declaring(0, 0), /0×0/],
    ["huge.png", declaring(30000, 30000), /30000×30000/],
  ];

  test.each(files)("%s", (name, contents, what) => {
    const path = join(scratch, name);
    if (contents !== undefined) writeFileSync(path, contents);
    const started = performance.now();
    const run = lfm("generate", "--model", dir, "--image", path, "--prompt", "Describe this image.", "--max-tokens", "1");
    expect(performance.now() - started).toBeLessThan(20_000);
    expect(run.status).not.toBe(0);
    const lines = run.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(path);
    expect(lines[0]).toMatch(what);
  });

  test("an image to a text-only model", () => {
    const text = checkpointFixtures("text")[0];
    const run = lfm("generate", "--model", text, "--image", join(fixturesRoot(), readJson(join(dir, "reference.json")).cases[0].image), "--prompt", "hi");
    expect(run.status).not.toBe(0);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(/text-only model: it cannot take image input/);
  });
});
