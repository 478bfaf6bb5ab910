/**
 * The FastConformer audio encoder of a model folder, executed by ONNX Runtime: log-mel features
 * [frames, mels] in, encoder frames [frames / 8, hidden] out, or with `adapter` LFM2-Audio's
 * audio-in embeddings [frames / 8, D_lfm].
 *
 * The adapter is built into the encoder's graph, not run as a model of its own: LFM2-Audio always
 * applies it straight to the encoder's output, so one graph makes an audio clip one session call and
 * its frames never leave ONNX Runtime (as the vision tower and projector share one graph).
 */
import { Checkpoint, graphLoadOptionsSchema, GraphModel, LfmkitError, linearPrecision, ort, Weights, type CachedGraph, type GraphBuilder, type WeightFormat } from "@lfmkit/core";
import { z } from "zod";
import { AUDIO_ADAPTER_PREFIX, adapterWidth, audioAdapter } from "./adapter.js";
import { CONFORMER_WEIGHTS, conformerEncoder, relativePositionEmbeddings, subsampledLength } from "./conformer.js";
import { readConformerConfig, type ConformerConfig } from "./conformer-config.js";

/** Bumped whenever the graph a checkpoint builds to changes, so stale cache entries are not reused. */
const GRAPH_VERSION = 1;

/** Names of the graph's inputs and outputs, shared by the builder and the runtime. */
const io = {
  features: "input_features",
  frameMask: "frame_mask",
  positionEmbeddings: "position_embeddings",
  encoded: "encoded",
};

export const conformerLoadOptionsSchema = graphLoadOptionsSchema.extend({
  /** Append LFM2-Audio's audio adapter (`audio_adapter.*`), so `encode` returns LFM embeddings. */
  adapter: z.boolean().default(false),
});

export type ConformerLoadOptions = z.input<typeof conformerLoadOptionsSchema>;

export interface EncodedAudio {
  /** [frames, width], row-major; rows from `validFrames` on encode padding. */
  readonly features: Float32Array;
  readonly frames: number;
  /** The rows that encode real input frames (liquid-audio keeps only these). */
  readonly validFrames: number;
  /** The encoder's hidden size, or the LFM hidden size with the adapter. */
  readonly width: number;
}

function buildGraph(g: GraphBuilder, config: ConformerConfig, encoder: Weights, adapter: Weights | undefined, width: number): void {
  const { melBins, hiddenSize } = config;
  const inputs = {
    features: g.input(io.features, "float32", ["batch", "frames", melBins]),
    frameMask: g.input(io.frameMask, "float32", ["batch", "frames"]),
    positionEmbeddings: g.input(io.positionEmbeddings, "float32", [1, "positions", hiddenSize]),
  };
  const encoded = conformerEncoder(g, inputs, encoder, config);
  g.output(adapter ? audioAdapter(g, encoded, adapter, hiddenSize) : encoded, io.encoded, "float32", ["batch", "encoded_frames", width]);
}

export class ConformerEncoder {
  private constructor(
    readonly config: ConformerConfig,
    readonly weightFormat: WeightFormat,
    /** Width of each output frame. */
    readonly width: number,
    private readonly runtime: GraphModel,
  ) {}

  static async load(dir: string, options: ConformerLoadOptions = {}): Promise<ConformerEncoder> {
    const settings = conformerLoadOptionsSchema.parse(options);
    const config = readConformerConfig(dir);
    const checkpoint = Checkpoint.open(dir);
    const precision = linearPrecision(settings);
    const weights = new Weights(
      (name) => checkpoint.source(name),
      dir,
      precision,
    );
    const encoder = weights.scope(CONFORMER_WEIGHTS[config.layout].root);
    const adapter = settings.adapter ? weights.scope(AUDIO_ADAPTER_PREFIX) : undefined;
    if (adapter && !checkpoint.has(`${AUDIO_ADAPTER_PREFIX}.3.weight`)) {
      throw new LfmkitError(`the checkpoint has no audio adapter (${AUDIO_ADAPTER_PREFIX}.*)`, dir);
    }
    const width = adapter ? adapterWidth(adapter) : config.hiddenSize;
    const runtime = await GraphModel.load({
      graph: "conformer",
      version: GRAPH_VERSION,
      key: { config, precision, adapter: settings.adapter },
      files: checkpoint.files,
      name: `conformer${settings.adapter ? "-adapter" : ""}-${settings.weightFormat}`,
      cacheDir: settings.cacheDir,
      threads: settings.threads,
      build: (g) => buildGraph(g, config, encoder, adapter, width),
    });
    return new ConformerEncoder(config, settings.weightFormat, width, runtime);
  }

  /** The graph file this encoder runs, and whether this load built it (false: reused from the cache). */
  get graph(): CachedGraph {
    return this.runtime.graph;
  }

  /**
   * Encodes one clip's log-mel `features` [frames, mels]; frames from `validFrames` on are padding
   * (masked as the references mask them).
   */
  async encode(features: Float32Array, frames: number, validFrames = frames): Promise<EncodedAudio> {
    const { melBins, hiddenSize, subsampling } = this.config;
    if (!Number.isInteger(frames) || frames < 1) throw new LfmkitError(`frames must be a positive integer, got ${frames}`);
    if (features.length !== frames * melBins) throw new LfmkitError(`features has ${features.length} values, [${frames}, ${melBins}] needs ${frames * melBins}`);
    if (!Number.isInteger(validFrames) || validFrames < 1 || validFrames > frames) {
      throw new LfmkitError(`validFrames must be an integer from 1 to ${frames}, got ${validFrames}`);
    }
    const encodedFrames = subsampledLength(frames, subsampling);
    const frameMask = Float32Array.from({ length: frames }, (_, i) => (i < validFrames ? 1 : 0));
    const out = await this.runtime.run({
      [io.features]: new ort.Tensor("float32", features, [1, frames, melBins]),
      [io.frameMask]: new ort.Tensor("float32", frameMask, [1, frames]),
      [io.positionEmbeddings]: new ort.Tensor("float32", relativePositionEmbeddings(encodedFrames, hiddenSize), [1, 2 * encodedFrames - 1, hiddenSize]),
    });
    return {
      features: out[io.encoded].data as Float32Array,
      frames: encodedFrames,
      validFrames: subsampledLength(validFrames, subsampling),
      width: this.width,
    };
  }

  dispose(): Promise<void> {
    return this.runtime.dispose();
  }
}
