/**
 * LFM2-Audio's audio output head (architecture notes §4.5): one Mimi frame of C codes from the
 * backbone's final hidden state h, sampled codebook after codebook by the depthformer, a small
 * attention-only decoder whose sequence is the frame's codebooks.
 *
 *   Z = depth_linear(h) viewed as [C, dim]
 *   x_0 = Z[0]
 *   for i in 0..C-1:
 *     o_i      = depthformer(x_i)                  at position i, attending to positions 0..i
 *     code_i   = sample( to_logits_i( RMSNorm(o_i; embedding_norm_i) ) )      (depth_embeddings.i)
 *     x_(i+1)  = Z[i+1] + embedding_i[code_i]
 *
 *   depthformer layer:  h = x + attention(RMSNorm(x; operator_norm))
 *                       out = h + SwiGLU(RMSNorm(h; ffn_norm))                 (no final norm)
 *
 * The attention is the backbone's (per-head RMSNorm on q and k before RoPE, grouped-query heads,
 * cache read where it lies) with a fused qkv projection and interleaved RoPE. One graph serves every
 * step: the codebook index is the RoPE position and selects (Gather) that codebook's rows of
 * depth_linear and its head, so a frame is C calls of one session (those selected tables stay
 * float32 whatever the weight format). The KV cache crosses the graph boundary as in the backbone
 * (cached rows in, new rows out) and starts empty at every frame.
 *
 * audio_embedding, which turns a generated frame into the backbone's next input row, is kept beside
 * this graph as a row table: it embeds exactly the frames this head produces.
 */
import { Checkpoint, GraphModel, KvCache, LfmkitError, Weights, ort, ops, type AttentionMasks, type GraphBuilder, type LinearPrecision, type RotarySpec } from "@lfmkit/core";
import type { LFM2AudioConfig } from "./lfm2-audio-config.js";

/** Bumped whenever the graph a checkpoint builds to changes, so stale cache entries are not reused. */
const GRAPH_VERSION = 1;

/** liquid-audio's depthformer defaults (model/transformer.py `MHA`, `RMSNorm`, `SharedEmbedding`): not in config.json. */
const NORM_EPS = 1e-5;
const ROPE_THETA = 1e6;

export interface DepthformerShape {
  readonly layers: number;
  readonly dim: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  readonly codebooks: number;
  /** Entries per codebook: the codec's codes, then end of audio. */
  readonly vocab: number;
  /** The backbone's hidden size: depth_linear's input and audio_embedding's width. */
  readonly backboneWidth: number;
}

/** Names of the graph's inputs, outputs and row tables, shared by the builder and the runtime. */
const io = {
  backboneHidden: "backbone_hidden",
  previousCode: "previous_code_embedding",
  codebook: "codebook",
  logits: "logits",
  cachedKeys: (layer: number) => `cached_keys.${layer}`,
  cachedValuesTransposed: (layer: number) => `cached_values_t.${layer}`,
  newKeys: (layer: number) => `new_keys.${layer}`,
  newValues: (layer: number) => `new_values.${layer}`,
  /** depth_embeddings.{i}.embedding stacked, [C·vocab, dim]: the next step's input rows. */
  codeEmbeddings: "depth_embeddings.f32",
  /** audio_embedding.embedding, [C·vocab, backbone width]: a generated frame's backbone input rows. */
  frameEmbeddings: "audio_embedding.f32",
};

/**
 * The head counts are liquid-audio's `MHA` defaults, not in config.json: they are read from the
 * weight shapes (q_layernorm is one head wide; qkv_proj holds dim + 2·kvHeads·headDim rows).
 */
function readShape(w: Weights, config: LFM2AudioConfig): DepthformerShape {
  const { layers, dim } = config.depthformer;
  const { codebooks } = config;
  const fail = (message: string): never => {
    throw new LfmkitError(message, w.where);
  };
  const layer = w.scope("depthformer.layers.0");
  const headDim = layer.required("operator.bounded_attention.q_layernorm.weight").shape[0];
  const [qkvRows, qkvInput] = layer.required("operator.qkv_proj.weight").shape;
  const kvHeads = (qkvRows - dim) / (2 * headDim);
  if (qkvInput !== dim || dim % headDim !== 0 || !Number.isInteger(kvHeads) || kvHeads < 1) {
    fail(`depthformer qkv_proj [${qkvRows}, ${qkvInput}] does not fit width ${dim} with heads of ${headDim}`);
  }
  if (!w.optional(`depthformer.layers.${layers - 1}.operator_norm.weight`) || w.optional(`depthformer.layers.${layers}.operator_norm.weight`)) {
    fail(`the checkpoint's depthformer does not have depthformer.layers = ${layers} layers`);
  }
  const [depthRows, backboneWidth] = w.required("depth_linear.weight").shape;
  if (depthRows !== codebooks * dim) fail(`depth_linear has ${depthRows} rows, ${codebooks} codebooks of width ${dim} need ${codebooks * dim}`);
  const [vocab] = w.required("depth_embeddings.0.embedding.weight").shape;
  const [frameRows, frameWidth] = w.required("audio_embedding.embedding.weight").shape;
  if (frameRows !== codebooks * vocab || frameWidth !== backboneWidth) {
    fail(`audio_embedding is [${frameRows}, ${frameWidth}], expected [${codebooks * vocab}, ${backboneWidth}]`);
  }
  return {
    layers,
    dim,
    heads: dim / headDim,
    kvHeads,
    headDim,
    codebooks,
    vocab,
    backboneWidth,
  };
}

/** Per-codebook tensors stacked along a new leading axis. */
function stacked(w: Weights, codebooks: number, name: (codebook: number) => string): Float32Array {
  const parts = Array.from({ length: codebooks }, (_, i) => w.required(name(i)).read());
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  parts.forEach((part, i) => out.set(part, i * part.length));
  return out;
}

/** With `tie`, to_logits is the embedding: read as embedding.weight where to_logits.weight is not stored. */
function headName(w: Weights, tie: boolean): (codebook: number) => string {
  return (i) => {
    const own = `depth_embeddings.${i}.to_logits.weight`;
    return tie && !w.optional(own) ? `depth_embeddings.${i}.embedding.weight` : own;
  };
}

interface Step {
  readonly positionIds: string;
  readonly rotary: RotarySpec;
  masks?: AttentionMasks;
}

/** `MHA`: q | k | v from one projection, per-head RMSNorm on q and k, RoPE, grouped-query attention, out_proj. */
function attention(g: GraphBuilder, x: string, w: Weights, layer: number, shape: DepthformerShape, step: Step): string {
  const { heads, kvHeads, headDim } = shape;
  const [q, k, v] = ops.splitFusedQkv(g, ops.linear(g, x, w.linear("qkv_proj")), shape);
  const normed = (t: string, norm: string) => ops.perHeadRmsNorm(g, t, w.required(`bounded_attention.${norm}.weight`), headDim, NORM_EPS);
  const cache = {
    keys: g.input(io.cachedKeys(layer), "float32", [kvHeads, "capacity", headDim]),
    valuesTransposed: g.input(io.cachedValuesTransposed(layer), "float32", [kvHeads, headDim, "capacity"]),
  };
  step.masks ??= ops.attentionMasks(g, step.positionIds, cache.keys, heads / kvHeads);
  const rotate = (t: string) => ops.rope(g, t, step.positionIds, step.rotary);
  const result = ops.cachedAttention(g, rotate(normed(q, "q_layernorm")), rotate(normed(k, "k_layernorm")), v, { heads, kvHeads, headDim, cache, masks: step.masks });
  g.output(result.newKeys, io.newKeys(layer), "float32", [kvHeads, 1, headDim]);
  g.output(result.newValues, io.newValues(layer), "float32", [kvHeads, 1, headDim]);
  return ops.linear(g, result.output, w.linear("out_proj"));
}

/** `StandardBlock`: pre-norm attention and SwiGLU (w1 gate, w3 up, w2 down), each with a residual. */
function depthformerLayer(g: GraphBuilder, x: string, w: Weights, layer: number, shape: DepthformerShape, step: Step): string {
  const attended = attention(g, ops.rmsNorm(g, x, w.required("operator_norm.weight"), NORM_EPS), w.scope("operator"), layer, shape, step);
  const h = g.op1("Add", [x, attended]);
  const ff = w.scope("feed_forward");
  const fed = ops.swiglu(g, ops.rmsNorm(g, h, w.required("ffn_norm.weight"), NORM_EPS), ff.linear("w1"), ff.linear("w3"), ff.linear("w2"));
  return g.op1("Add", [h, fed]);
}

function buildDepthformer(g: GraphBuilder, w: Weights, shape: DepthformerShape, tie: boolean): void {
  const { codebooks: C, dim, vocab, backboneWidth } = shape;
  g.sideFile(io.codeEmbeddings, stacked(w, C, (i) => `depth_embeddings.${i}.embedding.weight`));
  g.sideFile(io.frameEmbeddings, w.required("audio_embedding.embedding.weight").read());

  const codebook = g.input(io.codebook, "int64", [1, 1]);
  const index = g.op1("Squeeze", [codebook]);
  /** This step's codebook entry of a per-codebook table stacked as [C, ...rest]. */
  const perCodebook = (name: string, data: Float32Array, rest: number[]) => g.op1("Gather", [g.weight(name, data, [C, ...rest]), index]);

  // Z[i] = depth_linear(h)[i·dim : (i+1)·dim], from codebook i's rows of the weight and bias.
  const depthWeight = perCodebook("depth_linear.weight", w.required("depth_linear.weight").read(), [dim, backboneWidth]);
  const depthBias = perCodebook("depth_linear.bias", w.required("depth_linear.bias").read(), [dim]);
  const z = g.op1("Gemm", [g.input(io.backboneHidden, "float32", [1, backboneWidth]), depthWeight, depthBias], { transB: 1 });
  let x = g.op1("Add", [g.op1("Reshape", [z, g.constant([1, 1, dim])]), g.input(io.previousCode, "float32", [1, 1, dim])]);

  const step: Step = { positionIds: codebook, rotary: ops.rotary(g, ROPE_THETA, shape.headDim, C, true) };
  for (let layer = 0; layer < shape.layers; layer++) x = depthformerLayer(g, x, w.scope(`depthformer.layers.${layer}`), layer, shape, step);

  // Codebook i's head: RMSNorm with depth_embeddings.i.embedding_norm, then its to_logits.
  const norm = perCodebook("depth_embeddings.embedding_norm", stacked(w, C, (i) => `depth_embeddings.${i}.embedding_norm.weight`), [dim]);
  const normed = g.op1("SimplifiedLayerNormalization", [g.op1("Reshape", [x, g.constant([1, dim])]), norm], { axis: -1, epsilon: { float: NORM_EPS } });
  const head = perCodebook("depth_embeddings.to_logits", stacked(w, C, headName(w, tie)), [vocab, dim]);
  g.output(g.op1("Gemm", [normed, head], { transB: 1 }), io.logits, "float32", [1, vocab]);
}

export interface DepthformerLoadOptions {
  readonly precision: LinearPrecision;
  readonly threads?: number;
  readonly cacheDir?: string;
}

/** The per-frame KV cache of every depthformer layer; a frame fills positions 0..C-1. */
export class DepthformerState {
  readonly caches: KvCache[];

  constructor(shape: DepthformerShape) {
    this.caches = Array.from({ length: shape.layers }, () => {
      const cache = new KvCache(shape.kvHeads, shape.headDim);
      cache.reserve(shape.codebooks, 0);
      return cache;
    });
  }
}

/** Picks codebook `codebook`'s code from its logits [vocab] (which it may modify). */
export type CodePicker = (logits: Float32Array, codebook: number) => number;

export class Depthformer {
  private constructor(
    readonly shape: DepthformerShape,
    /** Where codebook i's entries start in audio_embedding (the checkpoint's `codebook_offsets`). */
    readonly codebookOffsets: readonly number[],
    private readonly runtime: GraphModel,
  ) {}

  static async load(dir: string, config: LFM2AudioConfig, options: DepthformerLoadOptions): Promise<Depthformer> {
    const checkpoint = Checkpoint.open(dir);
    const w = new Weights((name) => checkpoint.source(name), dir, options.precision);
    const shape = readShape(w, config);
    const offsets = checkpoint.has("codebook_offsets") ? checkpoint.readInts("codebook_offsets") : Array.from({ length: shape.codebooks }, (_, i) => i * shape.vocab);
    if (offsets.length !== shape.codebooks || offsets.some((o) => o < 0 || o + shape.vocab > shape.codebooks * shape.vocab)) {
      throw new LfmkitError(`codebook_offsets [${offsets}] do not index audio_embedding's ${shape.codebooks} codebooks of ${shape.vocab} entries`, dir);
    }
    const runtime = await GraphModel.load({
      graph: "lfm2-audio-depthformer",
      version: GRAPH_VERSION,
      key: { shape, tie: config.depthformer.tie, precision: options.precision },
      files: checkpoint.files,
      name: `depthformer-${options.precision.format}`,
      cacheDir: options.cacheDir,
      threads: options.threads,
      rowTables: { [io.codeEmbeddings]: [shape.codebooks * shape.vocab, shape.dim], [io.frameEmbeddings]: [shape.codebooks * shape.vocab, shape.backboneWidth] },
      build: (g) => buildDepthformer(g, w, shape, config.depthformer.tie),
    });
    return new Depthformer(shape, offsets, runtime);
  }

  /** The code that ends the audio (liquid-audio's EOAudio): the last entry of every codebook. */
  get endOfAudio(): number {
    return this.shape.vocab - 1;
  }

  newState(): DepthformerState {
    return new DepthformerState(this.shape);
  }

  /** One frame of codes from the backbone's final hidden state [backbone width], one graph call per codebook. */
  async sampleFrame(state: DepthformerState, backboneHidden: Float32Array, pick: CodePicker): Promise<number[]> {
    const { codebooks, dim, vocab, backboneWidth, kvHeads, headDim } = this.shape;
    if (backboneHidden.length !== backboneWidth) throw new LfmkitError(`the depthformer needs a hidden state of ${backboneWidth} values, got ${backboneHidden.length}`);
    const hidden = new ort.Tensor("float32", backboneHidden, [1, backboneWidth]);
    const codes: number[] = [];
    let previousCode: Float32Array = new Float32Array(dim);
    for (let codebook = 0; codebook < codebooks; codebook++) {
      const feeds: Record<string, ort.Tensor> = {
        [io.backboneHidden]: hidden,
        [io.previousCode]: new ort.Tensor("float32", previousCode, [1, 1, dim]),
        [io.codebook]: new ort.Tensor("int64", BigInt64Array.of(BigInt(codebook)), [1, 1]),
      };
      state.caches.forEach((cache, layer) => {
        const { keys, valuesTransposed, capacity } = cache.readable(codebook);
        feeds[io.cachedKeys(layer)] = new ort.Tensor("float32", keys, [kvHeads, capacity, headDim]);
        feeds[io.cachedValuesTransposed(layer)] = new ort.Tensor("float32", valuesTransposed, [kvHeads, headDim, capacity]);
      });
      const out = await this.runtime.run(feeds);
      state.caches.forEach((cache, layer) => cache.append(codebook, out[io.newKeys(layer)].data as Float32Array, out[io.newValues(layer)].data as Float32Array, 1));
      const code = pick(out[io.logits].data as Float32Array, codebook);
      if (!Number.isInteger(code) || code < 0 || code >= vocab) throw new LfmkitError(`picked code ${code} is outside codebook ${codebook}'s ${vocab} entries`);
      codes.push(code);
      if (codebook + 1 < codebooks) previousCode = this.runtime.table(io.codeEmbeddings).gather([codebook * vocab + code]);
    }
    return codes;
  }

  /** The backbone's input row for a frame: the sum of its codes' audio_embedding rows (no norm, as liquid-audio). */
  frameEmbedding(codes: readonly number[]): Float32Array {
    const { codebooks, vocab } = this.shape;
    if (codes.length !== codebooks || codes.some((c) => !Number.isInteger(c) || c < 0 || c >= vocab)) {
      throw new LfmkitError(`a frame is ${codebooks} codes in 0..${vocab - 1}, got [${codes}]`);
    }
    const rows = this.runtime.table(io.frameEmbeddings).gather(codes.map((code, i) => this.codebookOffsets[i] + code));
    const width = this.shape.backboneWidth;
    const sum = new Float32Array(width);
    for (let i = 0; i < codebooks; i++) for (let d = 0; d < width; d++) sum[d] += rows[i * width + d];
    return sum;
  }

  dispose(): Promise<void> {
    return this.runtime.dispose();
  }
}
