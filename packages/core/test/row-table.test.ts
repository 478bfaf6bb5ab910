import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { dequantizeBlocks, scratchDir } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";
import { QuantizedRowTable, RowTable, encodeQuantizedRows, quantizeBlockwise, quantizeGgml } from "../src/index.js";
import { dequantizeGgmlBlocks } from "../src/gguf/blocks.js";

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

describe("QuantizedRowTable", () => {
  const [qRows, qColumns] = [6, 300]; // several blocks at every grid below, the last one partial
  const values = Float32Array.from({ length: qRows * qColumns }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
  const rowsOf = (m: Float32Array, indices: number[]) => indices.flatMap((r) => [...m.subarray(r * qColumns, (r + 1) * qColumns)]);

  test.each([
    [8, 64],
    [4, 128],
    [8, 32],
    [4, 32],
  ] as const)("%i-bit blocks of %i: gathered rows are quantizeBlockwise's blocks dequantized", (bits, blockSize) => {
    const grid = { bits, blockSize };
    const table = new QuantizedRowTable(tableFile(encodeQuantizedRows(values, qRows, qColumns, grid)), qRows, qColumns, grid);
    const want = dequantizeBlocks(quantizeBlockwise(values, qRows, qColumns, bits, blockSize), qRows, qColumns);
    const indices = [5, 0, 5, 3];
    expect([...table.gather(indices)]).toEqual(rowsOf(want, indices));
    table.close();
  });

  test.each(["Q8_0", "Q4_0"] as const)("a %s tensor's values on its own grid come back exactly", (type) => {
    const columns = 320; // GGUF rows are whole 32-value blocks
    const ggml = dequantizeGgmlBlocks(type, quantizeGgml(type, Float32Array.from({ length: qRows * columns }, (_, i) => Math.cos(i * 0.37) * (1 + (i % 5)))));
    const grid = { bits: type === "Q8_0" ? 8 : 4, blockSize: 32 } as const;
    const table = new QuantizedRowTable(tableFile(encodeQuantizedRows(ggml, qRows, columns, grid)), qRows, columns, grid);
    expect(table.gather([...Array(qRows).keys()])).toEqual(ggml);
    table.close();
  });

  test("errors name the file: a row outside the table, a closed table, a file of the wrong size", () => {
    const grid = { bits: 4, blockSize: 128 } as const;
    const bytes = encodeQuantizedRows(values, qRows, qColumns, grid);
    const path = tableFile(bytes);
    const table = new QuantizedRowTable(path, qRows, qColumns, grid);
    expect(() => table.gather([qRows])).toThrow(/row 6 is outside the table's 6 rows/);
    expect(() => table.gather([-1])).toThrow(path);
    table.close();
    expect(() => table.gather([0])).toThrow(/closed/);
    // 3 blocks per row, each a 4-byte scale and 64 bytes of codes
    expect(() => new QuantizedRowTable(tableFile(bytes.subarray(1)), qRows, qColumns, grid)).toThrow(/expected 1224 bytes for a 6×300 table of 4-bit blocks of 128, found 1223/);
  });
});
