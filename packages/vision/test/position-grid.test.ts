/** The position-grid resize against closed forms of antialiased bilinear resampling. */
import { maxAbsDiff } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";
import { PositionGrid, resizeBilinearAntialiased } from "../src/position-grid.js";

/** Two channels per sample: the value and its negative ×10, so a channel mix-up shows. */
const twoChannels = (values: number[]) => Float32Array.from(values.flatMap((v) => [v, -10 * v]));
const x = [1, 2, 4, 8];

describe("resizeBilinearAntialiased", () => {
  test("halving averages with the triangle stretched ×2, weights (1, 3, 3, 1)/8, renormalized at the edges", () => {
    const want = twoChannels([(3 * x[0] + 3 * x[1] + x[2]) / 7, (x[1] + 3 * x[2] + 3 * x[3]) / 7]);
    expect(maxAbsDiff(resizeBilinearAntialiased(twoChannels(x), [1, 4], [1, 2], 2), want)).toBeLessThan(1e-6);
    expect(maxAbsDiff(resizeBilinearAntialiased(twoChannels(x), [4, 1], [2, 1], 2), want)).toBeLessThan(1e-6);
  });

  test("doubling is plain bilinear at half-pixel centres, clamped at the edges", () => {
    const want = twoChannels([x[0], 0.75 * x[0] + 0.25 * x[1], 0.25 * x[0] + 0.75 * x[1], x[1]]);
    expect(maxAbsDiff(resizeBilinearAntialiased(twoChannels(x.slice(0, 2)), [1, 2], [1, 4], 2), want)).toBeLessThan(1e-6);
    expect(maxAbsDiff(resizeBilinearAntialiased(twoChannels(x.slice(0, 2)), [2, 1], [4, 1], 2), want)).toBeLessThan(1e-6);
  });

  test("both axes: rows and columns resampled separably", () => {
    // grid[r][c] = x[c] + 100·r: columns 4 → 2 by the halving weights, rows 2 → 4 by the doubling ones.
    const grid = Float32Array.from([0, 100].flatMap((row) => x.map((v) => v + row)));
    const columns = [(3 * x[0] + 3 * x[1] + x[2]) / 7, (x[1] + 3 * x[2] + 3 * x[3]) / 7];
    const rows = [0, 25, 75, 100];
    const want = rows.flatMap((row) => columns.map((c) => c + row));
    expect(maxAbsDiff(resizeBilinearAntialiased(grid, [2, 4], [4, 2], 1), want)).toBeLessThan(1e-4);
  });

  test("the same size is an unchanged copy", () => {
    const grid = twoChannels(x);
    const resized = resizeBilinearAntialiased(grid, [2, 2], [2, 2], 2);
    expect(Array.from(resized)).toEqual(Array.from(grid));
    expect(resized).not.toBe(grid);
  });
});

test("PositionGrid keeps each resized shape and pads tiles with zero rows", () => {
  const grid = new PositionGrid(Float32Array.from({ length: 16 * 3 }, (_, i) => Math.sin(i)), 4, 3);
  expect(grid.forPatchGrid(2, 6)).toBe(grid.forPatchGrid(2, 6));
  const tiles = grid.forTiles([[2, 6], [4, 2]], 14);
  expect(tiles.length).toBe(2 * 14 * 3);
  expect(Array.from(tiles.subarray(0, 12 * 3))).toEqual(Array.from(grid.forPatchGrid(2, 6)));
  expect(tiles.subarray(12 * 3, 14 * 3).every((v) => v === 0)).toBe(true);
  expect(Array.from(tiles.subarray(14 * 3, 22 * 3))).toEqual(Array.from(grid.forPatchGrid(4, 2)));
  expect(tiles.subarray(22 * 3).every((v) => v === 0)).toBe(true);
});
