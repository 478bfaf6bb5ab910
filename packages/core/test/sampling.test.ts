import { expect, test } from "vitest";
import { Sampler, argmax } from "../src/index.js";

const logits = () => Float32Array.from([1.0, 3.0, 2.5, -1.0, 0.5]);

test("temperature 0 is argmax", () => {
  expect(new Sampler({ temperature: 0 }).sample(logits(), new Set())).toBe(argmax(logits()));
});

test("top-k 1 always picks the most likely token", () => {
  const sampler = new Sampler({ temperature: 1, topK: 1, seed: 3 });
  for (let i = 0; i < 20; i++) expect(sampler.sample(logits(), new Set())).toBe(1);
});

test("the same seed repeats the same draws; sampling reaches more than one token", () => {
  const draw = (seed: number) => Array.from({ length: 50 }, () => 0).map(((s) => () => s.sample(logits(), new Set()))(new Sampler({ temperature: 1.5, seed })));
  expect(draw(7)).toEqual(draw(7));
  expect(new Set(draw(7)).size).toBeGreaterThan(1);
});

test("min-p drops tokens below p times the top probability", () => {
  // p(2.5)/p(3.0) = e^-0.5 ≈ 0.61 survives min_p 0.5; every other token is below 0.5 of the top.
  const sampler = new Sampler({ temperature: 1, minP: 0.5, seed: 1 });
  const seen = new Set(Array.from({ length: 200 }, () => sampler.sample(logits(), new Set())));
  expect([...seen].sort()).toEqual([1, 2]);
});

test("top-p keeps the smallest set reaching the mass", () => {
  const sampler = new Sampler({ temperature: 1, topP: 0.5, seed: 1 });
  const seen = new Set(Array.from({ length: 100 }, () => sampler.sample(logits(), new Set())));
  expect([...seen]).toEqual([1]);
});

test("repetition penalty divides positive and multiplies negative logits of seen tokens", () => {
  const values = logits();
  new Sampler({ temperature: 0, repetitionPenalty: 2 }).sample(values, new Set([1, 3]));
  expect(Array.from(values)).toEqual([1.0, 1.5, 2.5, -2.0, 0.5]);
});
