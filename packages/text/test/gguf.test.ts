/** llama.cpp GGUF files: written from a fixture, read back as a model and as a tokenizer. */
import { copyFileSync, existsSync, readFileSync, readdirSync, symlinkSync, truncateSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { Checkpoint, GgufFile, quantizeBlockwise } from "@lfmkit/core";
import { dequantizeBlocks as dequantize, maxAbsDiff, readJson, scratchDir, testCacheDir, textFixtures, tokenizerFixtures } from "@lfmkit/testing";
import { TextTokenizer, folderVocabulary, ggufTokenizerEntries } from "@lfmkit/tokenizer";
import { describe, expect, test } from "vitest";
import { TextModel, exportGguf, openTextCheckpoint } from "../src/index.js";
import { ggufTensorFor } from "../src/gguf-names.js";

const ggufNameOf = (relative: string) => ggufTensorFor(relative)?.name;

const dense = textFixtures().filter((dir) => readJson(join(dir, "config.json")).model_type === "lfm2");
const exportable = dense.filter((dir) => !readJson(join(dir, "config.json")).conv_bias);

describe.each(dense)("GGUF export refusals for %s", (fixture) => {
  test("a checkpoint with conv_bias is refused: llama.cpp's lfm2 has no conv bias tensors", () => {
    const copy = scratchDir("conv-bias");
    for (const name of readdirSync(fixture)) if (name !== "config.json") symlinkSync(join(fixture, name), join(copy, name));
    writeFileSync(join(copy, "config.json"), JSON.stringify({ ...readJson(join(fixture, "config.json")), conv_bias: true }));
    expect(() => exportGguf(copy, join(copy, "out.gguf"), "F32", {})).toThrow(/conv_bias is true, but llama\.cpp's lfm2 architecture has no short-conv bias tensors/);
    expect(existsSync(join(copy, "out.gguf"))).toBe(false);
  });
});

describe.each(exportable)("GGUF export of %s", (fixture) => {
  const out = scratchDir("gguf");
  const file = (type: string) => exportGguf(fixture, join(out, `${basename(fixture)}-${type}.gguf`), type as "F32", ggufTokenizerEntries(folderVocabulary(fixture)));
  const reference = Checkpoint.openFile(join(fixture, "reference.safetensors"));
  const promptIds = reference.readInts("input_ids");

  test("an F32 GGUF reproduces the reference logits", async () => {
    const model = await TextModel.load(file("F32"), { logits: "all", cacheDir: testCacheDir() });
    const { logits } = await model.forward(model.newState(), promptIds);
    expect(maxAbsDiff(logits, reference.readF32("logits"))).toBeLessThanOrEqual(1e-3);
    await model.dispose();
  });

  test.each(["Q8_0", "Q4_0"] as const)("%s blocks survive lfmkit's re-quantization at the same bits unchanged", (type) => {
    const gguf = GgufFile.open(file(type));
    const checkpoint = openTextCheckpoint(file(type));
    const names = Checkpoint.open(fixture).names();
    const prefix = names.find((n) => n.endsWith("embed_tokens.weight"))!.replace("embed_tokens.weight", "");
    let checked = 0;
    for (const name of names.map((n) => n.slice(prefix.length))) {
      const info = gguf.tensors.get(ggufNameOf(name) ?? "");
      if (info?.type !== type) continue;
      const source = checkpoint.weight(name)!;
      expect(source.quantized, name).toEqual({ bits: type === "Q8_0" ? 8 : 4, blockSize: 32 });
      const values = source.read();
      const [rows, cols] = source.shape;
      const again = dequantize(quantizeBlockwise(values, rows, cols, source.quantized!.bits, source.quantized!.blockSize), rows, cols);
      expect(maxAbsDiff(again, values), name).toBe(0);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
  });

  test.each(["Q8_0", "Q4_0"] as const)("a %s GGUF loaded at the same bits embeds its tokens with its own blocks", async (type) => {
    const model = await TextModel.load(file(type), { weightFormat: type === "Q8_0" ? "q8" : "q4", cacheDir: testCacheDir() });
    const table = GgufFile.open(file(type)).readF32(ggufNameOf("embed_tokens.weight")!);
    const hidden = model.config.hiddenSize;
    expect([...model.embed(promptIds)]).toEqual(promptIds.flatMap((id) => [...table.subarray(id * hidden, (id + 1) * hidden)]));
    await model.dispose();
  });

  test.each(["Q8_0", "Q4_0"] as const)("%s tensors decode to within their quantization step of the weights", (type) => {
    const gguf = GgufFile.open(file(type));
    const weights = Checkpoint.open(fixture);
    const prefix = weights.names().find((n) => n.endsWith("embed_tokens.weight"))!.replace("embed_tokens.weight", "");
    for (const info of gguf.tensors.values()) {
      if (info.type !== type) continue;
      const hfName = weights.names().find((n) => ggufNameOf(n.slice(prefix.length)) === info.name)!;
      const original = weights.readF32(hfName);
      const decoded = gguf.readF32(info.name);
      for (let block = 0; block < original.length / 32; block++) {
        const slice = original.subarray(block * 32, block * 32 + 32);
        const step = Math.max(...slice.map(Math.abs)) / (type === "Q8_0" ? 127 : 8);
        // Rounding costs half a step, the f16 scale up to 2^-11 of it per code unit; Q4_0's codes run
        // -8..7, so the extreme opposite the one that set the scale clips by up to a whole step.
        const bound = type === "Q8_0" ? step * (0.5 + 127 * 2 ** -11) : step * (1 + 8 * 2 ** -11);
        expect(maxAbsDiff(decoded.subarray(block * 32, block * 32 + 32), slice)).toBeLessThanOrEqual(bound);
      }
    }
  });

  test("the tokenizer read from the GGUF encodes, decodes and templates as the folder's", () => {
    const fromGguf = TextTokenizer.load(file("F32"));
    const fromFolder = TextTokenizer.load(fixture);
    const texts = [fromFolder.decode(promptIds), ...tokenizerFixtures().flatMap((dir) => readJson(join(dir, "reference.json")).encode.map((c: { text: string }) => c.text))];
    for (const text of texts) {
      expect(fromGguf.encode(text)).toEqual(fromFolder.encode(text));
      expect(fromGguf.encode(text, { addSpecialTokens: true })).toEqual(fromFolder.encode(text, { addSpecialTokens: true }));
    }
    expect(fromGguf.decode(promptIds)).toEqual(fromFolder.decode(promptIds));
    const messages = [{ role: "system", content: "Be brief." }, { role: "user", content: "Write one short sentence about the sea." }];
    expect(fromGguf.applyChatTemplate(messages, { addGenerationPrompt: true })).toEqual(fromFolder.applyChatTemplate(messages, { addGenerationPrompt: true }));
  });

  test("a truncated GGUF names the tensor that runs past its end", async () => {
    const broken = join(out, "broken.gguf");
    copyFileSync(file("F32"), broken);
    truncateSync(broken, readFileSync(broken).length - 4096);
    await expect(TextModel.load(broken, { cacheDir: testCacheDir() })).rejects.toThrow(/broken\.gguf: tensor .*truncated/);
  });
});
