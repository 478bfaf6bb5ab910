import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { checkpointFixtures, readJson } from "@lfmkit/testing";
import { describe, expect, test } from "vitest";
import { parseVisionConfig, readVisionConfig } from "../src/vision-config.js";

describe("vision config", () => {
  test.each(checkpointFixtures("visionLanguage"))("%s: the tower and projector settings of config.json", (dir) => {
    const json = readJson(join(dir, "config.json"));
    const { tower, projector } = readVisionConfig(dir);
    const v = json.vision_config;
    expect(tower).toMatchObject({ hiddenSize: v.hidden_size, intermediateSize: v.intermediate_size, heads: v.num_attention_heads, patchSize: v.patch_size });
    expect(tower.positionGridSide ** 2).toBe(v.num_patches);
    expect(projector).toMatchObject({ downsampleFactor: json.downsample_factor, hiddenSize: json.projector_hidden_size, outputSize: json.text_config.hidden_size });
  });

  test("absent keys take the transformers defaults", () => {
    const { tower, projector } = parseVisionConfig({ vision_config: {} });
    expect(tower).toEqual({
      hiddenSize: 768,
      intermediateSize: 3072,
      heads: 12,
      headDim: 64,
      layers: 12,
      patchSize: 16,
      channels: 3,
      positionGridSide: 16,
      layerNormEps: 1e-6,
      hiddenAct: "gelu_pytorch_tanh",
    });
    expect(projector).toEqual({ downsampleFactor: 2, hiddenSize: 2560, hiddenAct: "gelu", bias: true, useLayerNorm: true, outputSize: 2560 });
  });

  test.each([
    [-1, 12],
    [-2, 11],
    [0, 1],
    [11, 12],
  ])("vision_feature_layer %i keeps %i of 12 layers", (featureLayer, layers) => {
    expect(parseVisionConfig({ vision_config: {}, vision_feature_layer: featureLayer }).tower.layers).toBe(layers);
  });

  test.each([
    [{}, /no vision_config/],
    [{ vision_config: {}, vision_feature_layer: 12 }, /vision_feature_layer 12/],
    [{ vision_config: {}, vision_feature_layer: -13 }, /vision_feature_layer -13/],
    [{ vision_config: { hidden_size: 100 } }, /divisible by num_attention_heads/],
    [{ vision_config: { num_patches: 200 } }, /num_patches must be a square/],
    [{ vision_config: { model_type: "siglip_vision_model" } }, /vision_config.model_type/],
    [{ vision_config: {}, downsample_factor: 0 }, /downsample_factor/],
  ])("rejects %j", (json, message) => {
    expect(() => parseVisionConfig(json, "config.json")).toThrow(LfmkitError);
    expect(() => parseVisionConfig(json, "config.json")).toThrow(message);
  });
});
