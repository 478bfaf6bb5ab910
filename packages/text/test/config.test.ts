import { join } from "node:path";
import { legacyLayoutCopy, readJson, textFixtures } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { effectiveFfnWidth, parseTextConfig, readTextConfig } from "../src/index.js";

test.each(textFixtures())("the older config layout of %s reads the same", (dir) => {
  expect(readTextConfig(legacyLayoutCopy(dir))).toEqual(readTextConfig(dir));
});

test("the FFN width rule reproduces the published widths (architecture notes §1.1)", () => {
  expect(effectiveFfnWidth(12288, true, 1.0, 256)).toBe(8192);
  expect(effectiveFfnWidth(6656, true, 1.0, 256)).toBe(4608);
  expect(effectiveFfnWidth(10752, false, 1.0, 256)).toBe(10752);
  expect(effectiveFfnWidth(300, true, null, 256)).toBe(200);
});

test("an unknown model_type is a clear error naming the file", () => {
  const config = readJson(join(textFixtures()[0], "config.json"));
  expect(() => parseTextConfig({ ...config, model_type: "llama" }, "x/config.json")).toThrow(/x\/config\.json: unknown model_type "llama"/);
});

test("a config missing a required key says which", () => {
  const { vocab_size: _, ...config } = readJson(join(textFixtures()[0], "config.json"));
  expect(() => parseTextConfig(config, "c.json")).toThrow(/c\.json: vocab_size/);
});
