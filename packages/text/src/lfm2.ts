/**
 * LFM2 hybrid decoder (architecture notes §1; MoE feed-forward §2), as one ONNX graph that serves
 * both prefill (S new tokens) and decode (S = 1).
 *
 *   h = embed[input_ids]            (looked up by the runtime: the graph's input is h)
 *   for each layer i:
 *     h = h + (conv_i or attention_i)(RMSNorm(h; operator_norm_i))
 *     h = h + ffn_i(RMSNorm(h; ffn_norm_i))
 *   logits = head(RMSNorm(h; embedding_norm))
 *
 * State crosses the graph boundary explicitly: each conv layer reads and returns its last L-1
 * gated inputs; each attention layer reads its cached keys/values where they lie (never copied)
 * and returns only the new rows, which the runtime appends to its cache.
 */
import { GraphBuilder, LfmkitError, ops, type AttentionMasks, type LinearSpec, type WeightFormat, type WeightSource } from "@lfmkit/core";
import type { Lfm2Config } from "./config.js";
import { moeFeedForward } from "./lfm2-moe.js";

export interface Lfm2BuildOptions {
  readonly format: WeightFormat;
  /** Logits for every position ("all", used by parity tests) or only the last one. */
  readonly logits: "all" | "last";
  /** Also output the hidden state after the embedding and after every layer. */
  readonly hiddenStates: boolean;
}

/** Names of the graph's inputs and outputs, shared by the builder and the runtime. */
export const io = {
  inputsEmbeds: "inputs_embeds",
  /** The token embedding table, written beside the graph and read row by row by the runtime. */
  embeddingTable: "embed_tokens.f32",
  positionIds: "position_ids",
  logits: "logits",
  convState: (layer: number) => `conv_state.${layer}`,
  convStateOut: (layer: number) => `conv_state_out.${layer}`,
  cachedKeys: (layer: number) => `cached_keys.${layer}`,
  cachedValuesTransposed: (layer: number) => `cached_values_t.${layer}`,
  newKeys: (layer: number) => `new_keys.${layer}`,
  newValues: (layer: number) => `new_values.${layer}`,
  hiddenState: (index: number) => `hidden_state.${index}`,
};

export type WeightLookup = (name: string) => WeightSource;
export type OptionalWeightLookup = (name: string) => WeightSource | undefined;

export function buildLfm2(
  g: GraphBuilder,
  config: Lfm2Config,
  weight: WeightLookup,
  optionalWeight: OptionalWeightLookup,
  options: Lfm2BuildOptions,
): void {
  const { hiddenSize: D, headDim, heads, kvHeads, convKernel: L, normEps: eps } = config;
  const linear = (name: string): LinearSpec => ({ weight: weight(`${name}.weight`), bias: optionalWeight(`${name}.bias`), format: options.format });
  const norm = (x: string, name: string) => ops.rmsNorm(g, x, weight(`${name}.weight`), eps);

  const embedding = weight("embed_tokens.weight");
  g.sideFile(io.embeddingTable, embedding.read());
  let h = g.input(io.inputsEmbeds, "float32", [1, "tokens", D]);
  const positionIds = g.input(io.positionIds, "int64", [1, "tokens"]);
  const hidden = [h];

  const { cos, sin } = ops.rotaryTables(config.ropeTheta, headDim, config.maxPositions);
  const rotary = {
    cos: g.weight("rope.cos", cos, [config.maxPositions, headDim / 2]),
    sin: g.weight("rope.sin", sin, [config.maxPositions, headDim / 2]),
    interleaved: false,
  };
  let masks: AttentionMasks | undefined;

  config.layerTypes.forEach((type, i) => {
    const layer = `layers.${i}`;
    const n = norm(h, `${layer}.operator_norm`);
    let mixed: string;
    if (type === "conv") {
      const state = g.input(io.convState(i), "float32", [1, L - 1, D]);
      const conv = ops.shortConv(g, n, {
        inProj: linear(`${layer}.conv.in_proj`),
        outProj: linear(`${layer}.conv.out_proj`),
        kernel: weight(`${layer}.conv.conv.weight`),
        kernelBias: optionalWeight(`${layer}.conv.conv.bias`),
        state,
      });
      g.output(conv.state, io.convStateOut(i), "float32", [1, L - 1, D]);
      mixed = conv.output;
    } else {
      const attn = `${layer}.self_attn`;
      const q = ops.perHeadRmsNorm(g, ops.linear(g, n, linear(`${attn}.q_proj`)), weight(`${attn}.q_layernorm.weight`), headDim, eps);
      const k = ops.perHeadRmsNorm(g, ops.linear(g, n, linear(`${attn}.k_proj`)), weight(`${attn}.k_layernorm.weight`), headDim, eps);
      const v = ops.linear(g, n, linear(`${attn}.v_proj`));
      const cache = {
        keys: g.input(io.cachedKeys(i), "float32", [kvHeads, "capacity", headDim]),
        valuesTransposed: g.input(io.cachedValuesTransposed(i), "float32", [kvHeads, headDim, "capacity"]),
      };
      // Every layer's cache has the same capacity, so one set of masks serves them all.
      masks ??= ops.attentionMasks(g, positionIds, cache.keys, heads / kvHeads);
      const attention = ops.cachedAttention(g, ops.rope(g, q, positionIds, rotary), ops.rope(g, k, positionIds, rotary), v, {
        heads,
        kvHeads,
        headDim,
        cache,
        masks,
      });
      g.output(attention.newKeys, io.newKeys(i), "float32", [kvHeads, "tokens", headDim]);
      g.output(attention.newValues, io.newValues(i), "float32", [kvHeads, "tokens", headDim]);
      mixed = ops.linear(g, attention.output, linear(`${attn}.out_proj`));
    }
    h = g.op1("Add", [h, mixed]);

    const m = norm(h, `${layer}.ffn_norm`);
    const ffn = `${layer}.feed_forward`;
    const isMoeLayer = config.moe !== undefined && i >= config.moe.denseLayers;
    const f = isMoeLayer
      ? moeFeedForward(g, m, config.moe!, ffn, weight, optionalWeight, options.format)
      : ops.swiglu(g, m, linear(`${ffn}.w1`), linear(`${ffn}.w3`), linear(`${ffn}.w2`));
    h = g.op1("Add", [h, f]);
    hidden.push(h);
  });

  h = norm(h, "embedding_norm");
  hidden[hidden.length - 1] = h;
  if (options.hiddenStates) hidden.forEach((x, index) => g.output(x, io.hiddenState(index), "float32", [1, "tokens", D]));
  if (options.logits === "last") h = g.op1("Slice", [h, g.constant([-1]), g.constant([Number.MAX_SAFE_INTEGER]), g.constant([1])]);

  const head = config.tieEmbeddings ? embedding : optionalWeight("lm_head.weight");
  if (!head) throw new LfmkitError("tie_word_embeddings is false but the checkpoint has no lm_head.weight");
  const logits = ops.linear(g, h, { weight: head, format: options.format });
  g.output(logits, io.logits, "float32", [1, options.logits === "last" ? 1 : "tokens", config.vocabSize]);
}
