import { closeSync, ftruncateSync, openSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { readAhead } from "../src/runtime/read-ahead.js";

test("no files start no pass", async () => {
  expect(await readAhead([]).done).toBe(0);
});

test("the pass reads every file to its end, and stops quietly at one it cannot read", async () => {
  const dir = scratchDir("read-ahead");
  const sizes = [0, 1, (4 << 20) + 3, 9 << 20];
  const files = sizes.map((size, i) => {
    const file = join(dir, `w${i}`);
    writeFileSync(file, new Uint8Array(size).fill(i + 1));
    return file;
  });
  const total = sizes.reduce((a, b) => a + b);
  expect(await readAhead(files).done).toBe(total);
  expect(await readAhead([files[2], join(dir, "missing"), files[3]]).done).toBe(sizes[2]);
});

test("stopping ends the pass before the file is read", async () => {
  const file = join(scratchDir("read-ahead"), "hole");
  const fd = openSync(file, "w");
  ftruncateSync(fd, 8 * 2 ** 30);
  closeSync(fd);
  const pass = readAhead([file]);
  const read = await pass.stop();
  expect(read).toBeLessThan(8 * 2 ** 30);
  expect(await pass.done).toBe(read);
});
