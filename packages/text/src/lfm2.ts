/**
 * LFM2 hybrid decoder (architecture notes §1; MoE feed-forward §2), as one ONNX graph that serves
 * both prefill (S new tokens) and decode (S = 1).
 *
 *   h = embed[input_ids]            (looked up by the runtime: the graph's input is h)
 *   for each layer i:
 *     h = h + (shortConv_i or attention_i)(RMSNorm(h; operator_norm_i))
 *     h = h + feedForward_i(RMSNorm(h; ffn_norm_i))
 *   logits = head(RMSNorm(h; embedding_norm))
 *
 * State crosses the graph boundary explicitly: each conv layer reads and returns its last L-1
 * gated inputs; each attention layer reads its cached keys/values where they lie (never copied)
 * and returns only the new rows, which the runtime appends to its cache.
 */
import {
  GraphBuilder,
  LfmkitError,
  ops,
  quantizationGrid,
  quantizeWeight,
  quantizedRowRecords,
  type AttentionMasks,
  type BlockGrid,
  type RotarySpec,
  type WeightFormat,
  type WeightSource,
  type Weights,
} from "@lfmkit/core";
import type { Lfm2Config } from "./config.js";
import { moeFeedForward } from "./lfm2-moe.js";

export interface Lfm2BuildOptions {
  /** Logits for every position ("all", used by parity tests) or only the last one. */
  readonly logits: "all" | "last";
  /** Also output the hidden state after the embedding and after every layer. */
  readonly hiddenStates: boolean;
  /** Also output the final hidden state (after embedding_norm, what the head reads) of the rows whose logits are output. */
  readonly finalHidden?: boolean;
}

/** Names of the graph's inputs and outputs, shared by the builder and the runtime. */
export const io = {
  inputsEmbeds: "inputs_embeds",
  /** The token embedding table at the load's weight format, written beside the graph and read row by row by the runtime. */
  embeddingTable: (format: WeightFormat) => `embed_tokens.${format}`,
  positionIds: "position_ids",
  logits: "logits",
  convState: (layer: number) => `conv_state.${layer}`,
  convStateOut: (layer: number) => `conv_state_out.${layer}`,
  cachedKeys: (layer: number) => `cached_keys.${layer}`,
  cachedValuesTransposed: (layer: number) => `cached_values_t.${layer}`,
  newKeys: (layer: number) => `new_keys.${layer}`,
  newValues: (layer: number) => `new_values.${layer}`,
  hiddenState: (index: number) => `hidden_state.${index}`,
  finalHidden: "final_hidden",
};

/** What every layer of one graph shares: the positions of the new tokens and their rotary tables. */
interface Sequence {
  readonly positionIds: string;
  readonly rotary: RotarySpec;
  /** Every layer's cache has the same capacity, so the first attention layer's masks serve them all. */
  masks?: AttentionMasks;
}

/** §1.5: per-head RMSNorm on q and k, RoPE, grouped-query attention over the cache, output projection. */
function attention(g: GraphBuilder, x: string, w: Weights, layer: number, config: Lfm2Config, sequence: Sequence): string {
  const { heads, kvHeads, headDim, normEps } = config;
  const project = (name: string) => ops.linear(g, x, w.linear(name));
  const q = ops.perHeadRmsNorm(g, project("q_proj"), w.required("q_layernorm.weight"), headDim, normEps);
  const k = ops.perHeadRmsNorm(g, project("k_proj"), w.required("k_layernorm.weight"), headDim, normEps);
  const v = project("v_proj");
  const cache = {
    keys: g.input(io.cachedKeys(layer), "float32", [kvHeads, "capacity", headDim]),
    valuesTransposed: g.input(io.cachedValuesTransposed(layer), "float32", [kvHeads, headDim, "capacity"]),
  };
  sequence.masks ??= ops.attentionMasks(g, sequence.positionIds, cache.keys, heads / kvHeads);
  const rotate = (t: string) => ops.rope(g, t, sequence.positionIds, sequence.rotary);
  const result = ops.cachedAttention(g, rotate(q), rotate(k), v, { heads, kvHeads, headDim, cache, masks: sequence.masks });
  g.output(result.newKeys, io.newKeys(layer), "float32", [kvHeads, "tokens", headDim]);
  g.output(result.newValues, io.newValues(layer), "float32", [kvHeads, "tokens", headDim]);
  return ops.linear(g, result.output, w.linear("out_proj"));
}

/**
 * §1.4: B, C, x = split(in_proj(n)); the causal depthwise conv of B ⊙ x, gated by C, then out_proj.
 * The conv state is the last L-1 values of B ⊙ x.
 */
function shortConv(g: GraphBuilder, x: string, w: Weights, layer: number, config: Lfm2Config): string {
  const stateShape = [1, config.convKernel - 1, config.hiddenSize];
  const [b, c, xs] = g.op("Split", [ops.linear(g, x, w.linear("in_proj"))], { axis: -1 }, { outputs: 3 });
  const conv = ops.causalDepthwiseConv(g, g.op1("Mul", [b, xs]), {
    kernel: w.required("conv.weight"),
    bias: w.optional("conv.bias"),
    state: g.input(io.convState(layer), "float32", stateShape),
  });
  g.output(conv.state, io.convStateOut(layer), "float32", stateShape);
  return ops.linear(g, g.op1("Mul", [c, conv.output]), w.linear("out_proj"));
}

/** §1.6: SwiGLU with w1 = gate, w3 = up, w2 = down; the MoE layers route to experts instead (§2.3). */
function feedForward(g: GraphBuilder, x: string, w: Weights, layer: number, config: Lfm2Config): string {
  if (config.moe && layer >= config.moe.denseLayers) return moeFeedForward(g, x, w, config.moe);
  return ops.swiglu(g, x, w.linear("w1"), w.linear("w3"), w.linear("w2"));
}

/** §1.2: pre-norm residual blocks, the operator (conv or attention) then the feed-forward. */
function decoderLayer(g: GraphBuilder, h: string, w: Weights, layer: number, config: Lfm2Config, sequence: Sequence): string {
  const n = ops.rmsNorm(g, h, w.required("operator_norm.weight"), config.normEps);
  const mixed =
    config.layerTypes[layer] === "conv"
      ? shortConv(g, n, w.scope("conv"), layer, config)
      : attention(g, n, w.scope("self_attn"), layer, config, sequence);
  h = g.op1("Add", [h, mixed]);
  const m = ops.rmsNorm(g, h, w.required("ffn_norm.weight"), config.normEps);
  return g.op1("Add", [h, feedForward(g, m, w.scope("feed_forward"), layer, config)]);
}

/**
 * The token embedding table as `GraphModel`'s `rowTables` describe it: [rows, columns] of float32 at
 * f32; at q8/q4, [rows, columns, grid] on the grid a linear layer quantizes the same weight on (so a
 * tied head holds the same blocks, and a GGUF Q8_0 / Q4_0 table keeps its own).
 */
export function embeddingTableLayout(embedding: WeightSource, format: WeightFormat): readonly [number, number, BlockGrid?] {
  const [rows, columns] = embedding.shape;
  return format === "f32" ? [rows, columns] : [rows, columns, quantizationGrid(format === "q8" ? 8 : 4, embedding.quantized)];
}

/**
 * The lookup of §1.2's first line happens in the runtime, in this table written beside the graph.
 * A tied LM head is the same matrix on the same grid: it is stored here from the same read (and the
 * same blocks), and the head's `linear` finds it stored.
 */
function writeEmbeddingTable(g: GraphBuilder, w: Weights, embedding: WeightSource, tied: boolean): void {
  const { format } = w.precision;
  const [rows, , grid] = embeddingTableLayout(embedding, format);
  if (!grid) {
    const values = embedding.read();
    g.sideFile(io.embeddingTable(format), values);
    if (tied) ops.floatWeight(g, { ...embedding, read: () => values });
    return;
  }
  const blocks = quantizeWeight(embedding, grid, { scratch: (count) => g.scratch(count) });
  g.sideFile(io.embeddingTable(format), quantizedRowRecords(blocks, rows));
  if (tied) ops.quantizedWeight(g, w.asLinear(embedding), blocks);
}

export function buildLfm2(g: GraphBuilder, config: Lfm2Config, w: Weights, options: Lfm2BuildOptions): void {
  const { hiddenSize: D, headDim } = config;
  const embedding = w.required("embed_tokens.weight");
  writeEmbeddingTable(g, w, embedding, config.tieEmbeddings);
  let h = g.input(io.inputsEmbeds, "float32", [1, "tokens", D]);
  const sequence: Sequence = {
    positionIds: g.input(io.positionIds, "int64", [1, "tokens"]),
    rotary: ops.rotary(g, config.ropeTheta, headDim, config.maxPositions, false),
  };
  const hidden = [h];
  for (let layer = 0; layer < config.layerTypes.length; layer++) {
    h = decoderLayer(g, h, w.scope(`layers.${layer}`), layer, config, sequence);
    hidden.push(h);
  }

  h = ops.rmsNorm(g, h, w.required("embedding_norm.weight"), config.normEps);
  hidden[hidden.length - 1] = h;
  if (options.hiddenStates) hidden.forEach((x, index) => g.output(x, io.hiddenState(index), "float32", [1, "tokens", D]));
  if (options.logits === "last") h = g.op1("Slice", [h, g.constant([-1]), g.constant([Number.MAX_SAFE_INTEGER]), g.constant([1])]);
  if (options.finalHidden) g.output(h, io.finalHidden, "float32", [1, options.logits === "last" ? 1 : "tokens", D]);

  const head = config.tieEmbeddings ? embedding : w.optional("lm_head.weight");
  if (!head) throw new LfmkitError("tie_word_embeddings is false but the checkpoint has no lm_head.weight", w.where);
  const logits = ops.linear(g, h, w.asLinear(head));
  g.output(logits, io.logits, "float32", [1, options.logits === "last" ? 1 : "tokens", config.vocabSize]);
}
