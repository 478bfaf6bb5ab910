/**
 * Parity with Hugging Face transformers on every LFM2 text fixture (dense and MoE), in the layout
 * the fixture was written in and in the older published layout.
 */
import { basename, join } from "node:path";
import { Checkpoint, argmax } from "@lfmkit/core";
import { comparableGreedySteps, cosine, legacyLayoutCopy, maxAbsDiff, testCacheDir, textFixtures } from "@lfmkit/testing";
import { TextTokenizer } from "@lfmkit/tokenizer";
import { describe, expect, test } from "vitest";
import { TextModel, generate } from "../src/index.js";

const LOGIT_TOLERANCE = 1e-3;
/**
 * Quantized loads against f32: top-1 agreement over every prompt position and teacher-forced decode
 * step, and the worst cosine between logit vectors over the decode steps. Random-weight fixtures
 * have near-flat logits, so 4-bit rounding noise moves their argmax often, and an MoE router's
 * discrete expert choice can flip under small perturbations (measured worst q8 cosine: dense 0.995,
 * MoE 0.987). q4's exactness is pinned by the
 * MatMulNBits layout test in core and its quality on a trained model by the demo-model test.
 */
const QUANT_BOUNDS = { q8: { agreement: 0.8, cosine: 0.98 }, q4: { agreement: 0, cosine: 0.5 } };

interface Reference {
  promptIds: number[];
  logits: Float32Array;
  hiddenStates?: Float32Array;
  generatedIds: number[];
  stepLogits: Float32Array;
}

function readReference(dir: string): Reference {
  const ref = Checkpoint.openFile(join(dir, "reference.safetensors"));
  return {
    promptIds: ref.readInts("input_ids"),
    logits: ref.readF32("logits"),
    hiddenStates: ref.has("hidden_states") ? ref.readF32("hidden_states") : undefined,
    generatedIds: ref.readInts("generated_ids"),
    stepLogits: ref.readF32("step_logits"),
  };
}

function row(values: Float32Array, index: number, width: number): Float32Array {
  return values.subarray(index * width, (index + 1) * width);
}

/**
 * Teacher-forced decode: the logits that chose each reference token, one decode step at a time.
 * With a model loaded with `logits: "all"`, every prompt position's logits come first.
 */
async function teacherForcedSteps(model: TextModel, ref: Reference): Promise<Float32Array[]> {
  const state = model.newState();
  const vocab = model.config.vocabSize;
  const prompt = await model.forward(state, ref.promptIds);
  const steps = Array.from({ length: prompt.rows }, (_, i) => row(prompt.logits, i, vocab));
  for (const id of ref.generatedIds.slice(0, -1)) {
    const { logits } = await model.forward(state, [id]);
    steps.push(logits.slice(-vocab));
  }
  return steps;
}

const fixtures = textFixtures();
test("text fixtures are present", () => expect(fixtures.length).toBeGreaterThan(0));

for (const fixture of fixtures) {
  const ref = readReference(fixture);
  for (const layout of ["published", "legacy"] as const) {
    describe(`${basename(fixture)} (${layout} layout)`, () => {
      const dir = layout === "published" ? fixture : legacyLayoutCopy(fixture);

      test("prompt logits and hidden states match at f32", async () => {
        const model = await TextModel.load(dir, { logits: "all", hiddenStates: ref.hiddenStates !== undefined, cacheDir: testCacheDir() });
        const vocab = model.config.vocabSize;
        const result = await model.forward(model.newState(), ref.promptIds);
        expect(result.rows).toBe(ref.promptIds.length);
        expect(result.logits.length).toBe(ref.logits.length);
        expect(maxAbsDiff(result.logits, ref.logits)).toBeLessThanOrEqual(LOGIT_TOLERANCE);
        if (ref.hiddenStates) {
          const layers = result.hiddenStates!;
          const per = ref.hiddenStates.length / layers.length;
          layers.forEach((h, i) => expect(maxAbsDiff(h, ref.hiddenStates!.subarray(i * per, (i + 1) * per)), `hidden state ${i}`).toBeLessThanOrEqual(LOGIT_TOLERANCE));
        }
        expect(vocab).toBe(ref.logits.length / ref.promptIds.length);
        await model.dispose();
      });

      test("teacher-forced decode-step logits match at f32", async () => {
        const model = await TextModel.load(dir, { cacheDir: testCacheDir() });
        const steps = await teacherForcedSteps(model, ref);
        expect(steps.length).toBe(ref.generatedIds.length);
        steps.forEach((logits, i) =>
          expect(maxAbsDiff(logits, row(ref.stepLogits, i, logits.length)), `step ${i}`).toBeLessThanOrEqual(LOGIT_TOLERANCE),
        );
        await model.dispose();
      });

      test("greedy generation reproduces the reference ids", async () => {
        const model = await TextModel.load(dir, { cacheDir: testCacheDir() });
        const tokenizer = TextTokenizer.load(dir);
        const vocab = model.config.vocabSize;
        const count = ref.generatedIds.length;
        let done: Extract<Awaited<ReturnType<typeof collect>>, { type: "done" }> | undefined;
        const collect = async () => {
          for await (const event of generate(model, tokenizer, ref.promptIds, { temperature: 0, maxTokens: count, stopTokenIds: [] })) {
            if (event.type === "done") done = event;
          }
          return done!;
        };
        const result = await collect();
        const comparable = comparableGreedySteps(ref.stepLogits, vocab);
        expect(result.ids).toHaveLength(count);
        expect(result.ids.slice(0, comparable)).toEqual(ref.generatedIds.slice(0, comparable));
        await model.dispose();
      });
    });
  }

  describe(`${basename(fixture)} quantized`, () => {
    for (const dtype of ["q8", "q4"] as const) {
      test(`${dtype} stays close to f32`, async () => {
        const reference = await TextModel.load(fixture, { logits: "all", cacheDir: testCacheDir() });
        const quantized = await TextModel.load(fixture, { weightFormat: dtype, logits: "all", cacheDir: testCacheDir() });
        const [exact, approx] = [await teacherForcedSteps(reference, ref), await teacherForcedSteps(quantized, ref)];
        // Agreement over every prompt position and decode step (many samples, so a stable rate);
        // the worst cosine over the decode steps alone, as they chose the reference tokens.
        const agreement = exact.filter((logits, i) => argmax(logits) === argmax(approx[i])).length / exact.length;
        const decodeSteps = exact.length - ref.generatedIds.length;
        const worstCosine = Math.min(...exact.slice(decodeSteps).map((logits, i) => cosine(logits, approx[decodeSteps + i])));
        console.log(`${basename(fixture)} ${dtype}: top-1 agreement ${agreement.toFixed(3)} over ${exact.length} positions, worst decode-step cosine ${worstCosine.toFixed(4)}`);
        expect(agreement).toBeGreaterThanOrEqual(QUANT_BOUNDS[dtype].agreement);
        expect(worstCosine).toBeGreaterThanOrEqual(QUANT_BOUNDS[dtype].cosine);
        await reference.dispose();
        await quantized.dispose();
      });
    }
  });
}
