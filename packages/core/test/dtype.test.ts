import { expect, test } from "vitest";
import { bf16ToF32, floatToHalf, halfToFloat } from "../src/index.js";

test("float16 encoding follows IEEE 754 binary16, rounding halfway cases to even", () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [2 ** -24, 0x0001],
    [2 ** -14, 0x0400],
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
  ];
  for (const [value, bits] of cases) expect(floatToHalf(value), String(value)).toBe(bits);
  for (const [value, bits] of cases.filter(([v]) => Math.abs(v) <= 65504)) {
    if (Object.is(value, 1 + 2 ** -11) || Object.is(value, 1 + 3 * 2 ** -11)) continue;
    expect(halfToFloat(bits)).toBe(value);
  }
  expect(Number.isNaN(halfToFloat(floatToHalf(NaN)))).toBe(true);
});

test("bfloat16 widens by shifting into the high half", () => {
  expect(Array.from(bf16ToF32(Uint16Array.of(0x3f80, 0xc000, 0x0000)))).toEqual([1, -2, 0]);
});
