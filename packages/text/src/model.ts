import { concatFloat32, graphLoadOptionsSchema, GraphModel, LfmkitError, linearPrecision, ort, Weights, type CachedGraph, type WeightFormat } from "@lfmkit/core";
import { z } from "zod";
import { openTextCheckpoint } from "./checkpoint.js";
import type { Lfm2Config } from "./config.js";
import { buildLfm2, embeddingTableLayout, io, type Lfm2BuildOptions } from "./lfm2.js";
import { DecoderState } from "./state.js";

/** Bumped whenever the graph a checkpoint builds to changes, so stale cache entries are not reused. */
const GRAPH_VERSION = 16;

/**
 * A prompt chunk's attention scores hold rows × cache capacity entries per head; long contexts
 * therefore prefill in shorter chunks, so those scores (and the memory they need) stay bounded.
 */
const MAX_CHUNK_SCORES = 1 << 18;

export const loadOptionsSchema = graphLoadOptionsSchema.extend({
  /** Logits for every position ("all", used by parity tests) or only the last one. */
  logits: z.enum(["all", "last"]).default("last"),
  hiddenStates: z.boolean().default(false),
  /** Also return the final hidden state (after the last norm, what the LM head reads) of the rows whose logits are returned. */
  finalHidden: z.boolean().default(false),
  /** Longest prompt chunk per forward pass; longer inputs run as several passes (shorter at long contexts). */
  prefillChunk: z.number().int().positive().default(256),
});

export type LoadOptions = z.input<typeof loadOptionsSchema>;

export interface ForwardResult {
  /** [rows, vocab]: one row per input position ("all") or only the last ("last"). */
  readonly logits: Float32Array;
  readonly rows: number;
  /** Per entry [tokens, hidden]: embeddings, then every layer (the last after the final norm). */
  readonly hiddenStates?: Float32Array[];
  /** [rows, hidden]: the final hidden state of the same rows as `logits` (with the `finalHidden` option). */
  readonly finalHidden?: Float32Array;
}

/** An LFM2 text decoder loaded from a Hugging Face folder and executed by ONNX Runtime. */
export class TextModel {
  private constructor(
    readonly config: Lfm2Config,
    readonly path: string,
    readonly weightFormat: WeightFormat,
    private readonly runtime: GraphModel,
    private readonly options: z.output<typeof loadOptionsSchema>,
  ) {}

  /** Loads a Hugging Face folder or a GGUF file. */
  static async load(path: string, options: LoadOptions = {}): Promise<TextModel> {
    const settings = loadOptionsSchema.parse(options);
    const checkpoint = openTextCheckpoint(path);
    const { config } = checkpoint;
    const precision = linearPrecision(settings);
    const weights = new Weights((name) => checkpoint.weight(name), path, precision);
    // finalHidden joins the build key only when set, so the graphs of existing loads keep their cache entries.
    const build: Lfm2BuildOptions = { logits: settings.logits, hiddenStates: settings.hiddenStates, ...(settings.finalHidden && { finalHidden: true }) };
    const runtime = await GraphModel.load({
      graph: "lfm2",
      version: GRAPH_VERSION,
      key: { config, build, precision },
      files: checkpoint.files,
      name: `lfm2-${settings.weightFormat}`,
      cacheDir: settings.cacheDir,
      threads: settings.threads,
      // f32 weights are used in place from the mapped file: SGEMM packs them per call, and the load copies nothing (core README).
      prepackWeights: settings.weightFormat !== "f32",
      rowTables: { [io.embeddingTable(settings.weightFormat)]: embeddingTableLayout(weights.required("embed_tokens.weight"), settings.weightFormat) },
      build: (g) => buildLfm2(g, config, weights, build),
    });
    return new TextModel(config, path, settings.weightFormat, runtime, settings);
  }

  /** The graph file this model runs, and whether this load built it (false: reused from the cache). */
  get graph(): CachedGraph {
    return this.runtime.graph;
  }

  /** The input embeddings of `ids`, [ids.length, hidden]: what `forwardEmbeddings` takes. */
  embed(ids: readonly number[]): Float32Array {
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.config.vocabSize) {
        throw new LfmkitError(`token id ${id} is outside the vocabulary of ${this.config.vocabSize}`);
      }
    }
    return this.runtime.table(io.embeddingTable(this.weightFormat)).gather(ids);
  }

  newState(): DecoderState {
    return DecoderState.empty(this.config);
  }

  /** Runs `ids` through the decoder after what `state` has seen, and advances `state`. */
  forward(state: DecoderState, ids: readonly number[]): Promise<ForwardResult> {
    return this.forwardEmbeddings(state, this.embed(ids));
  }

  /**
   * Runs input embeddings [tokens, hidden] through the decoder after what `state` has seen, and
   * advances `state`: the entry for sequences whose rows are not all token embeddings (image or
   * audio features spliced in).
   */
  async forwardEmbeddings(state: DecoderState, embeddings: Float32Array): Promise<ForwardResult> {
    const { hiddenSize, maxPositions } = this.config;
    const tokens = embeddings.length / hiddenSize;
    if (tokens === 0 || !Number.isInteger(tokens)) throw new LfmkitError(`forward needs [tokens, ${hiddenSize}] embeddings, got ${embeddings.length} values`);
    const end = state.position + tokens;
    if (end > maxPositions) {
      throw new LfmkitError(`${end} positions exceed the model's context of ${maxPositions} tokens (max_position_embeddings)`);
    }
    let capacity = 0;
    for (const cache of state.caches.values()) {
      cache.reserve(end, state.position); // once for every chunk
      capacity = cache.capacity;
    }
    const chunk = Math.max(1, Math.min(this.options.prefillChunk, Math.floor(MAX_CHUNK_SCORES / Math.max(capacity, 1))));
    const results: ForwardResult[] = [];
    for (let start = 0; start < tokens; start += chunk) {
      results.push(await this.step(state, embeddings.subarray(start * hiddenSize, Math.min(tokens, start + chunk) * hiddenSize)));
    }
    return results.length === 1 ? results[0] : concatResults(results, this.options.logits === "all");
  }

  private async step(state: DecoderState, embeddings: Float32Array): Promise<ForwardResult> {
    const { config } = this;
    const tokens = embeddings.length / config.hiddenSize;
    const past = state.position;
    const feeds: Record<string, ort.Tensor> = {
      [io.inputsEmbeds]: new ort.Tensor("float32", embeddings, [1, tokens, config.hiddenSize]),
      [io.positionIds]: new ort.Tensor("int64", BigInt64Array.from({ length: tokens }, (_, i) => BigInt(past + i)), [1, tokens]),
    };
    for (const [layer, conv] of state.convStates) {
      feeds[io.convState(layer)] = new ort.Tensor("float32", conv, [1, config.convKernel - 1, config.hiddenSize]);
    }
    for (const [layer, cache] of state.caches) {
      const { keys, valuesTransposed, capacity } = cache.readable(past);
      feeds[io.cachedKeys(layer)] = new ort.Tensor("float32", keys, [config.kvHeads, capacity, config.headDim]);
      feeds[io.cachedValuesTransposed(layer)] = new ort.Tensor("float32", valuesTransposed, [config.kvHeads, config.headDim, capacity]);
    }
    const out = await this.runtime.run(feeds);

    for (const layer of state.convStates.keys()) state.convStates.set(layer, out[io.convStateOut(layer)].data as Float32Array);
    for (const [layer, cache] of state.caches) {
      cache.append(past, out[io.newKeys(layer)].data as Float32Array, out[io.newValues(layer)].data as Float32Array, tokens);
    }
    state.position += tokens;

    const logits = out[io.logits].data as Float32Array;
    const hiddenStates = this.options.hiddenStates
      ? Array.from({ length: config.layerTypes.length + 1 }, (_, i) => out[io.hiddenState(i)].data as Float32Array)
      : undefined;
    const finalHidden = this.options.finalHidden ? (out[io.finalHidden].data as Float32Array) : undefined;
    return { logits, rows: logits.length / config.vocabSize, hiddenStates, finalHidden };
  }

  dispose(): Promise<void> {
    return this.runtime.dispose();
  }
}
function concatResults(results: ForwardResult[], keepAll: boolean): ForwardResult {
  if (!keepAll) return results[results.length - 1];
  const hidden = results[0].hiddenStates;
  return {
    logits: concatFloat32(results.map((r) => r.logits)),
    rows: results.reduce((n, r) => n + r.rows, 0),
    hiddenStates: hidden?.map((_, i) => concatFloat32(results.map((r) => r.hiddenStates![i]))),
    finalHidden: results[0].finalHidden && concatFloat32(results.map((r) => r.finalHidden!)),
  };
}
