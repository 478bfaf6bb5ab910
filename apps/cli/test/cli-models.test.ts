/** `lfm models`: the manifests, and the committed default model checked against its own. */
import { spawnSync } from "node:child_process";
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot, scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";

const bin = join(repoRoot(), "apps", "cli", "dist", "main.js");
const lfm = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
const demo = join(repoRoot(), "models", "lfmkit-demo");

test("models list names every manifest, the default model among them", () => {
  const run = lfm("models", "list", "--json");
  expect(run.status).toBe(0);
  const models: { name: string; architecture: string; page: string }[] = JSON.parse(run.stdout);
  expect(models.map((m) => m.name)).toContain("lfmkit-demo");
  for (const m of models) expect(m.page.length).toBeGreaterThan(0);
});

test("the committed default model matches its manifest, file by file", () => {
  const run = lfm("models", "verify", demo, "--json");
  expect(run.stderr).toBe("");
  const result = JSON.parse(run.stdout);
  expect(result.ok).toBe(true);
  expect(result.files.every((f: { status: string }) => f.status === "ok")).toBe(true);
});

test("a changed file fails verification with one line naming the folder", () => {
  const copy = join(scratchDir("verify"), "lfmkit-demo");
  cpSync(demo, copy, { recursive: true });
  writeFileSync(join(copy, "config.json"), "{}");
  const run = lfm("models", "verify", copy);
  expect(run.status).not.toBe(0);
  expect(run.stdout).toMatch(/size\s+config\.json/);
  expect(run.stderr.trim().split("\n")).toHaveLength(1);
  expect(run.stderr).toMatch(/1 of \d+ files do not match the manifest of lfmkit-demo/);
});
