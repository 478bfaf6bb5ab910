/**
 * Parity with Hugging Face transformers on every LFM2 text fixture (dense and MoE), in the layout
 * the fixture was written in and in the older published layout.
 */
import { basename, join } from "node:path";
import { Checkpoint, quantizeBlockwise } from "@lfmkit/core";
import { comparableGreedySteps, legacyLayoutCopy, maxAbsDiff, testCacheDir, textFixtures, SUMMATION_ORDER_BOUND, dequantizedCopy as sharedDequantizedCopy, relativeError } from "@lfmkit/testing";
import { TextTokenizer } from "@lfmkit/tokenizer";
import { describe, expect, test } from "vitest";
import { TextModel, generate, type GenerationEvent } from "../src/index.js";

const LOGIT_TOLERANCE = 1e-3;

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
        let done: Extract<GenerationEvent, { type: "done" }> | undefined;
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
    for (const weightFormat of ["q8", "q4"] as const) {
      test(`${weightFormat} computes what f32 computes with the same blocks dequantized`, async () => {
        const bits = weightFormat === "q8" ? 8 : 4;
        const quantized = await TextModel.load(fixture, { weightFormat, quantizedProducts: "exact", logits: "all", cacheDir: testCacheDir() });
        const reference = await TextModel.load(dequantizedCopy(fixture, bits), { logits: "all", cacheDir: testCacheDir() });
        const [got, want] = [await teacherForcedSteps(quantized, ref), await teacherForcedSteps(reference, ref)];
        const worst = Math.max(...want.map((logits, i) => relativeError(got[i], logits)));
        console.log(`${basename(fixture)} ${weightFormat}: worst relative logit error against dequantized f32 ${worst.toExponential(2)}`);
        expect(worst).toBeLessThanOrEqual(SUMMATION_ORDER_BOUND);
        await quantized.dispose();
        await reference.dispose();
      });
    }
  });
}

/**
 * A copy of a checkpoint whose every quantized weight (each matrix a linear layer reads, and the token
 * embedding table, whose rows the quantized graph reads as blocks too) is replaced by its blocks
 * dequantized by the independent reader, loaded at f32.
 */
function dequantizedCopy(dir: string, bits: 4 | 8): string {
  const checkpoint = Checkpoint.open(dir);
  return sharedDequantizedCopy(dir, {
    matrixOf: (name, shape) => (shape.length === 2 && !name.endsWith("feed_forward.gate.weight") ? [shape[0], shape[1]] : undefined),
    read: (name) => checkpoint.readF32(name),
    quantize: (w, rows, cols) => quantizeBlockwise(w, rows, cols, bits),
  });
}
