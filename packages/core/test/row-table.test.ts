import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { RowTable } from "../src/index.js";

const rows = 5;
const columns = 3;
const matrix = Float32Array.from({ length: rows * columns }, (_, i) => i * 1.5 - 4);

function tableFile(bytes: Uint8Array): string {
  const path = join(scratchDir("rows"), "table.f32");
  writeFileSync(path, bytes);
  return path;
}

test("gathers the requested rows in order, repeats included", () => {
  const table = new RowTable(tableFile(new Uint8Array(matrix.buffer)), rows, columns);
  const want = [4, 0, 4, 2].flatMap((r) => [...matrix.subarray(r * columns, (r + 1) * columns)]);
  expect([...table.gather([4, 0, 4, 2])]).toEqual(want);
  expect(table.gather([])).toHaveLength(0);
  table.close();
});

test("a row outside the table, or a closed table, is an error that names the file", () => {
  const path = tableFile(new Uint8Array(matrix.buffer));
  const table = new RowTable(path, rows, columns);
  expect(() => table.gather([rows])).toThrow(/row 5 is outside the table's 5 rows/);
  expect(() => table.gather([-1])).toThrow(path);
  table.close();
  expect(() => table.gather([0])).toThrow(/closed/);
});

test("a file of the wrong size is refused at open", () => {
  expect(() => new RowTable(tableFile(new Uint8Array(matrix.buffer).subarray(4)), rows, columns)).toThrow(/expected 60 bytes .* found 56/);
});
