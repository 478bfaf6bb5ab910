/** PrefixCache's bookkeeping on its own: which kept state a prompt continues, from where, and what the budget holds. */
import { DecoderState, type Lfm2Config, type PromptEnd } from "@lfmkit/text";
import { expect, test } from "vitest";
import { PrefixCache } from "../src/prefix-cache.js";

const config = { layerTypes: ["conv", "full_attention"], convKernel: 3, hiddenSize: 4, kvHeads: 1, headDim: 2 } as unknown as Lfm2Config;
const ids = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

/** A state that has seen `positions`, with the prompt end it passed at `promptLength`. */
function answered(promptLength: number, positions: number): { state: DecoderState; promptEnd: PromptEnd } {
  const state = DecoderState.empty(config);
  state.position = promptLength;
  const promptEnd = { ...state.mark(), logits: new Float32Array([promptLength, 0, 1]) };
  for (const conv of state.convStates.keys()) state.convStates.set(conv, new Float32Array(8).fill(positions));
  state.position = positions;
  return { state, promptEnd };
}

function cacheWith(promptLength: number, positions: number, budget = 1 << 20) {
  const cache = new PrefixCache(budget);
  const { state, promptEnd } = answered(promptLength, positions);
  cache.keep({ ids: ids(positions), images: [] }, state, [promptEnd]);
  return { cache, state, promptEnd };
}

test("a prompt that extends the whole kept state continues from its end, with nothing to answer from", () => {
  const { cache, state } = cacheWith(4, 6);
  const taken = cache.take({ ids: ids(9), images: [] });
  expect(taken?.state).toBe(state);
  expect(state.position).toBe(6);
  expect(taken?.logits).toBeUndefined();
  expect(cache.size).toBe(0);
});

test("the same prompt again goes back to its end and answers from the logits kept there", () => {
  const { cache, state, promptEnd } = cacheWith(4, 6);
  const taken = cache.take({ ids: ids(4), images: [] });
  expect(taken?.state.position).toBe(4);
  expect(taken?.logits).toBe(promptEnd.logits);
  expect([...state.convStates.values()]).toEqual([...promptEnd.convStates.values()]);
});

test("a prompt that departs after the prompt end goes back to it and prefills the rest; one that departs before it finds nothing", () => {
  const branching = cacheWith(4, 6).cache.take({ ids: [...ids(5), 99], images: [] });
  expect(branching?.state.position).toBe(4);
  expect(branching?.logits).toBeUndefined();
  expect(cacheWith(4, 6).cache.take({ ids: [1, 2, 99], images: [] })).toBeUndefined();
});

test("a kept state whose answer was empty is answered again from its end", () => {
  const taken = cacheWith(4, 4).cache.take({ ids: ids(4), images: [] });
  expect(taken?.state.position).toBe(4);
  expect(taken?.logits).toBeDefined();
});

test("images are part of the key", () => {
  const cache = new PrefixCache(1 << 20);
  const { state, promptEnd } = answered(4, 6);
  cache.keep({ ids: ids(6), images: ["a"] }, state, [promptEnd]);
  expect(cache.take({ ids: ids(8), images: ["b"] })).toBeUndefined();
  expect(cache.take({ ids: ids(8), images: ["a"] })?.images).toBe(1);
});

test("the budget counts states and kept logits, and evicts the least recently kept", () => {
  const { state, promptEnd } = answered(4, 6);
  const entryBytes = state.bytes + promptEnd.logits.byteLength;
  const cache = new PrefixCache(entryBytes * 2);
  cache.keep({ ids: ids(6), images: [] }, state, [promptEnd]);
  expect(cache.heldBytes).toBe(entryBytes);
  for (const first of [10, 20]) {
    const other = answered(4, 6);
    cache.keep({ ids: ids(6).map((id) => id + first), images: [] }, other.state, [other.promptEnd]);
  }
  expect(cache.size).toBe(2);
  expect(cache.take({ ids: ids(8), images: [] })).toBeUndefined();
});

test("a budget of 0 keeps nothing", () => {
  const cache = new PrefixCache(0);
  const { state, promptEnd } = answered(4, 6);
  cache.keep({ ids: ids(6), images: [] }, state, [promptEnd]);
  expect(cache.size).toBe(0);
});
