/** LFM2-MoE checkpoints as llama.cpp `lfm2moe` GGUFs: written from a fixture, read back as a model. */
import { existsSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Checkpoint, GgufFile, quantizeBlockwise } from "@lfmkit/core";
import { checkpointFixtures, dequantizeBlocks, maxAbsDiff, readJson, scratchDir, testCacheDir } from "@lfmkit/testing";
import { folderVocabulary, ggufTokenizerEntries } from "@lfmkit/tokenizer";
import { describe, expect, test } from "vitest";
import { TextModel, exportGguf, openTextCheckpoint } from "../src/index.js";
import { readTextConfig } from "../src/config.js";
import { ggufTensorFor } from "../src/gguf-names.js";

const moeFixtures = checkpointFixtures("text").filter((dir) => readJson(join(dir, "config.json")).model_type === "lfm2_moe");

test("an MoE text fixture is present", () => expect(moeFixtures.length).toBeGreaterThan(0));

/** A copy of `fixture` (its files linked) whose config.json has `changes` applied. */
function withConfig(fixture: string, changes: Record<string, unknown>): string {
  const copy = scratchDir("moe-config");
  for (const name of readdirSync(fixture)) if (name !== "config.json") symlinkSync(join(fixture, name), join(copy, name));
  writeFileSync(join(copy, "config.json"), JSON.stringify({ ...readJson(join(fixture, "config.json")), ...changes }));
  return copy;
}

/** Routing llama.cpp's lfm2moe can express: normalized top-k weights, no scaling. */
const expressible = (dir: string) => {
  const config = readJson(join(dir, "config.json"));
  return config.norm_topk_prob !== false && (config.routed_scaling_factor ?? 1) === 1;
};

describe.each(moeFixtures)("GGUF export refusals for %s", (fixture) => {
  const tokenizer = ggufTokenizerEntries(folderVocabulary(fixture));
  test.each([
    [{ norm_topk_prob: false }, /norm_topk_prob is false, but llama\.cpp's lfm2moe always normalizes/],
    [{ routed_scaling_factor: 2.5 }, /routed_scaling_factor is 2\.5, but llama\.cpp's lfm2moe does not scale/],
  ])("routing llama.cpp's lfm2moe cannot express is refused: %o", (changes, message) => {
    const copy = withConfig(fixture, changes);
    expect(() => exportGguf(copy, join(copy, "out.gguf"), "F32", tokenizer)).toThrow(message);
    expect(existsSync(join(copy, "out.gguf"))).toBe(false);
  });
});

describe.each(moeFixtures.filter(expressible))("GGUF export of %s", (fixture) => {
  const out = scratchDir("gguf-moe");
  const tokenizer = ggufTokenizerEntries(folderVocabulary(fixture));
  const file = (type: "F32" | "Q8_0" | "Q4_0") => exportGguf(fixture, join(out, `${basename(fixture)}-${type}.gguf`), type, tokenizer);
  const reference = Checkpoint.openFile(join(fixture, "reference.safetensors"));
  const promptIds = reference.readInts("input_ids");
  const names = Checkpoint.open(fixture).names();
  const prefix = names.find((n) => n.endsWith("embed_tokens.weight"))!.replace("embed_tokens.weight", "");
  const relativeNames = names.map((n) => n.slice(prefix.length));

  test("an F32 GGUF reproduces the reference logits", async () => {
    const model = await TextModel.load(file("F32"), { logits: "all", cacheDir: testCacheDir() });
    const { logits } = await model.forward(model.newState(), promptIds);
    expect(maxAbsDiff(logits, reference.readF32("logits"))).toBeLessThanOrEqual(1e-3);
    await model.dispose();
  });

  test("the GGUF is an lfm2moe with the folder's config and stacked experts", () => {
    const gguf = GgufFile.open(file("F32"));
    expect(gguf.metadata.get("general.architecture")).toBe("lfm2moe");
    expect(gguf.metadata.get("lfm2moe.expert_gating_func")).toBe(2); // sigmoid
    const { config } = readTextConfig(fixture);
    expect(openTextCheckpoint(file("F32")).config).toMatchObject({ moe: config.moe, layerTypes: config.layerTypes, ffnWidth: config.ffnWidth, vocabSize: config.vocabSize });
    const { experts, expertWidth, denseLayers } = config.moe!;
    for (let layer = denseLayers; layer < config.layerTypes.length; layer++) {
      expect(gguf.info(`blk.${layer}.ffn_gate_exps.weight`).shape).toEqual([experts, expertWidth, config.hiddenSize]);
      expect(gguf.info(`blk.${layer}.ffn_up_exps.weight`).shape).toEqual([experts, expertWidth, config.hiddenSize]);
      expect(gguf.info(`blk.${layer}.ffn_down_exps.weight`).shape).toEqual([experts, config.hiddenSize, expertWidth]);
      expect(gguf.info(`blk.${layer}.ffn_gate_inp.weight`)).toMatchObject({ shape: [experts, config.hiddenSize], type: "F32" });
      expect(gguf.info(`blk.${layer}.exp_probs_b.bias`)).toMatchObject({ shape: [experts], type: "F32" });
    }
  });

  test.each(["Q8_0", "Q4_0"] as const)("%s blocks, the experts' among them, survive lfmkit's re-quantization at the same bits unchanged", (type) => {
    const gguf = GgufFile.open(file(type));
    const checkpoint = openTextCheckpoint(file(type));
    const checked = { experts: 0, others: 0 };
    for (const name of relativeNames) {
      const location = ggufTensorFor(name)!;
      const info = gguf.info(location.name);
      if (location.expert !== undefined) {
        // Stacked experts are at the requested type, or F16 where a row is not whole 32-value blocks (as llama.cpp's converter writes them).
        expect(info.type, location.name).toBe(info.shape[info.shape.length - 1] % 32 === 0 ? type : "F16");
      }
      if (info.type !== type) continue;
      const source = checkpoint.weight(name)!;
      expect(source.quantized, name).toEqual({ bits: type === "Q8_0" ? 8 : 4, blockSize: 32 });
      const values = source.read();
      const [rows, cols] = source.shape;
      const again = dequantizeBlocks(quantizeBlockwise(values, rows, cols, source.quantized!.bits, source.quantized!.blockSize), rows, cols);
      expect(maxAbsDiff(again, values), name).toBe(0);
      checked[location.expert === undefined ? "others" : "experts"]++;
    }
    expect(checked.experts).toBeGreaterThan(0);
    expect(checked.others).toBeGreaterThan(0);
  });

  test("without use_expert_bias, exp_probs_b is written as zeros and the GGUF computes what the folder computes", async () => {
    const unbiased = withConfig(fixture, { use_expert_bias: false });
    const path = exportGguf(unbiased, join(out, "unbiased.gguf"), "F32", tokenizer);
    const gguf = GgufFile.open(path);
    const biases = [...gguf.tensors.keys()].filter((n) => n.endsWith("exp_probs_b.bias"));
    expect(biases.length).toBeGreaterThan(0);
    for (const name of biases) expect([...gguf.readF32(name)].every((v) => v === 0), name).toBe(true);
    const [fromFolder, fromGguf] = [await TextModel.load(unbiased, { logits: "all", cacheDir: testCacheDir() }), await TextModel.load(path, { logits: "all", cacheDir: testCacheDir() })];
    const [a, b] = [await fromFolder.forward(fromFolder.newState(), promptIds), await fromGguf.forward(fromGguf.newState(), promptIds)];
    expect(maxAbsDiff(a.logits, b.logits)).toBeLessThanOrEqual(1e-4);
    await fromFolder.dispose();
    await fromGguf.dispose();
  });
});
