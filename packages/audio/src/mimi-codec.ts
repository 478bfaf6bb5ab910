/**
 * The Mimi codec at run time: waveform → codes (`encode`), codes → waveform (`decode`), and a decoder
 * stream that turns frames into audio as they arrive. Each direction is one cached graph (mimi.ts),
 * built the first time it is used.
 */
import { graphLoadOptionsSchema, GraphModel, LfmkitError, linearPrecision, ort, Weights, type LinearPrecision } from "@lfmkit/core";
import { z } from "zod";
import { buildDetokenizer, buildTokenizer, io, type MimiBuild } from "./mimi.js";
import { parseMimiConfig, readMimiConfig, type MimiConfig } from "./mimi-config.js";
import { detokenizerPart, stateSlots, tokenizerPart } from "./mimi-layers.js";
import { GraphStream } from "./mimi-stream.js";
import { openMimiCheckpoint, type MimiCheckpoint, type MimiWeightNaming } from "./mimi-weights.js";

/** Bumped whenever the graph a checkpoint builds to changes, so stale cache entries are not reused. */
const GRAPH_VERSION = 1;

/** Codes laid out [codebooks, frames], row-major: codebook 0 (semantic) first, then the acoustic ones. */
export interface MimiCodes {
  readonly codebooks: number;
  readonly frames: number;
  readonly data: Int32Array;
}

/** Codes from frames as a generator produces them, each frame one code per codebook. */
export function codesFromFrames(frames: readonly (readonly number[])[]): MimiCodes {
  const codebooks = frames[0]?.length ?? 0;
  const data = new Int32Array(codebooks * frames.length);
  frames.forEach((frame, t) => {
    if (frame.length !== codebooks) throw new LfmkitError(`frame ${t} has ${frame.length} codes, frame 0 has ${codebooks}`);
    frame.forEach((code, c) => (data[c * frames.length + t] = code));
  });
  return { codebooks, frames: frames.length, data };
}

export const mimiLoadOptionsSchema = graphLoadOptionsSchema.extend({
  /** Codebooks to code and decode (LFM2-Audio uses 8); default all of the checkpoint's. */
  codebooks: z.number().int().positive().optional(),
  /**
   * config.json contents for a checkpoint file without one beside it (the moshi-format
   * `tokenizer-*.safetensors`); default the published kyutai/mimi settings.
   */
  config: z.record(z.string(), z.unknown()).optional(),
  /**
   * `encode` and `decode` run longer inputs as a stream of chunks of at most this many frames (default
   * 8 s at 12.5 frames/s), which bounds the memory their attention scores and activations take.
   */
  chunkFrames: z.number().int().positive().default(100),
});

export type MimiLoadOptions = z.input<typeof mimiLoadOptionsSchema>;

type Direction = "tokenizer" | "detokenizer";

export class MimiCodec {
  private readonly graphs = new Map<Direction, Promise<GraphModel>>();

  private constructor(
    readonly config: MimiConfig,
    /** Codebooks per frame in the codes this codec produces and accepts. */
    readonly codebooks: number,
    /** The weight names the checkpoint uses. */
    readonly naming: MimiWeightNaming,
    private readonly checkpoint: MimiCheckpoint,
    private readonly settings: z.output<typeof mimiLoadOptionsSchema>,
  ) {}

  /** A Mimi folder (config.json + safetensors), or one safetensors file in either naming. */
  static async load(path: string, options: MimiLoadOptions = {}): Promise<MimiCodec> {
    const settings = mimiLoadOptionsSchema.parse(options);
    const checkpoint = openMimiCheckpoint(path);
    const config = settings.config
      ? parseMimiConfig(settings.config, `${path}: config`)
      : checkpoint.folder === undefined
        ? parseMimiConfig({}, path)
        : readMimiConfig(checkpoint.folder);
    const { quantizers, semanticQuantizers } = config.quantizer;
    const codebooks = settings.codebooks ?? quantizers;
    if (codebooks < semanticQuantizers || codebooks > quantizers) {
      throw new LfmkitError(`codebooks must be between ${semanticQuantizers} (the semantic ones) and ${quantizers} (all of the checkpoint's), got ${codebooks}`);
    }
    return new MimiCodec(config, codebooks, checkpoint.naming, checkpoint, settings);
  }

  get sampleRate(): number {
    return this.config.sampleRate;
  }

  get samplesPerFrame(): number {
    return this.config.samplesPerFrame;
  }

  /**
   * Codes of a mono waveform at `sampleRate`. The waveform is zero-padded to whole frames first, as
   * the moshi reference does: ceil(samples / samplesPerFrame) frames.
   */
  async encode(audio: Float32Array): Promise<MimiCodes> {
    const { samplesPerFrame } = this.config;
    const frames = Math.ceil(audio.length / samplesPerFrame);
    const padded = new Float32Array(frames * samplesPerFrame);
    padded.set(audio);
    const stream = await this.stream("tokenizer");
    const chunks: Int32Array[] = [];
    const { chunkFrames } = this.settings;
    for (let first = 0; first < frames; first += chunkFrames) {
      const count = Math.min(chunkFrames, frames - first);
      const samples = padded.subarray(first * samplesPerFrame, (first + count) * samplesPerFrame);
      const out = await stream.run({ [io.audio]: new ort.Tensor("float32", samples, [1, 1, samples.length]) }, count);
      chunks.push(Int32Array.from(out[io.codes].data as BigInt64Array, Number));
    }
    return joinFrames(chunks, this.codebooks, frames);
  }

  /** The waveform of codes [codebooks, frames]: frames · samplesPerFrame samples. */
  async decode(codes: MimiCodes): Promise<Float32Array> {
    checkCodes(codes, this);
    const stream = this.decoderStream();
    const parts: Float32Array[] = [];
    const { chunkFrames } = this.settings;
    for (let first = 0; first < codes.frames; first += chunkFrames) {
      parts.push(await stream.push(sliceFrames(codes, first, Math.min(codes.frames, first + chunkFrames))));
    }
    const audio = new Float32Array(codes.frames * this.config.samplesPerFrame);
    parts.reduce((at, part) => (audio.set(part, at), at + part.length), 0);
    return audio;
  }

  /** A decoder that continues from frame to frame: its audio, chunk by chunk, equals `decode` of all the frames. */
  decoderStream(): MimiDecoderStream {
    return new MimiDecoderStream(this, () => this.stream("detokenizer"));
  }

  async dispose(): Promise<void> {
    const loaded = await Promise.allSettled(this.graphs.values());
    this.graphs.clear();
    for (const graph of loaded) if (graph.status === "fulfilled") await graph.value.dispose();
  }

  private async stream(direction: Direction): Promise<GraphStream> {
    const part = direction === "tokenizer" ? tokenizerPart(this.config) : detokenizerPart(this.config);
    return new GraphStream(await this.graph(direction), stateSlots(part, this.config), this.config.positionsPerFrame);
  }

  private graph(direction: Direction): Promise<GraphModel> {
    let graph = this.graphs.get(direction);
    if (!graph) {
      const { settings, checkpoint } = this;
      const precision: LinearPrecision = linearPrecision(settings);
      const weights = new Weights(checkpoint.find, checkpoint.files[0], precision);
      const build: MimiBuild = { config: this.config, codebooks: this.codebooks, ropeInterleaved: this.naming === "moshi" };
      graph = GraphModel.load({
        graph: `mimi-${direction}`,
        version: GRAPH_VERSION,
        key: { build, precision },
        files: checkpoint.files,
        name: `mimi-${direction}-${settings.weightFormat}`,
        cacheDir: settings.cacheDir,
        threads: settings.threads,
        build: (g) => (direction === "tokenizer" ? buildTokenizer : buildDetokenizer)(g, weights, build),
      });
      graph.catch(() => this.graphs.delete(direction));
      this.graphs.set(direction, graph);
    }
    return graph;
  }
}

/**
 * Frames in, audio out: each `push` returns samplesPerFrame samples per frame pushed, continuing the
 * audio of the frames before. Pushes run one after another in the order they were made.
 */
export class MimiDecoderStream {
  private stream: Promise<GraphStream> | undefined;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly codec: MimiCodec,
    private readonly open: () => Promise<GraphStream>,
  ) {}

  /** The audio of the next frames, [codebooks, any number of frames]. */
  async push(codes: MimiCodes): Promise<Float32Array> {
    checkCodes(codes, this.codec);
    const result = this.queue.then(() => this.decode(codes));
    this.queue = result.catch(() => undefined);
    return result;
  }

  /** The audio of every codes chunk `source` yields, one audio chunk per codes chunk. */
  async *audio(source: AsyncIterable<MimiCodes> | Iterable<MimiCodes>): AsyncGenerator<Float32Array> {
    for await (const codes of source) yield await this.push(codes);
  }

  private async decode(codes: MimiCodes): Promise<Float32Array> {
    if (codes.frames === 0) return new Float32Array(0);
    this.stream ??= this.open();
    const stream = await this.stream;
    const tensor = new ort.Tensor("int64", BigInt64Array.from(codes.data, BigInt), [codes.codebooks, codes.frames]);
    return (await stream.run({ [io.codes]: tensor }, codes.frames))[io.audio].data as Float32Array;
  }
}

/** Throws unless `codes` are [codebooks, frames] for `codec`, with every code inside the codebooks. */
function checkCodes(codes: MimiCodes, codec: MimiCodec): void {
  const { codebookSize } = codec.config.quantizer;
  if (codes.codebooks !== codec.codebooks) throw new LfmkitError(`codes have ${codes.codebooks} codebooks, this codec decodes ${codec.codebooks}`);
  if (!Number.isInteger(codes.frames) || codes.frames < 0 || codes.data.length !== codes.codebooks * codes.frames) {
    throw new LfmkitError(`codes hold ${codes.data.length} values, [${codes.codebooks}, ${codes.frames}] needs ${codes.codebooks * codes.frames}`);
  }
  const bad = codes.data.findIndex((code) => code < 0 || code >= codebookSize);
  if (bad >= 0) {
    const [codebook, frame] = [Math.floor(bad / codes.frames), bad % codes.frames];
    throw new LfmkitError(`code ${codes.data[bad]} at codebook ${codebook}, frame ${frame} is outside the codebook of ${codebookSize} entries`);
  }
}

function sliceFrames(codes: MimiCodes, from: number, to: number): MimiCodes {
  const data = new Int32Array(codes.codebooks * (to - from));
  for (let c = 0; c < codes.codebooks; c++) data.set(codes.data.subarray(c * codes.frames + from, c * codes.frames + to), c * (to - from));
  return { codebooks: codes.codebooks, frames: to - from, data };
}

/** Chunks of codes [codebooks, ·] joined along frames. */
function joinFrames(chunks: readonly Int32Array[], codebooks: number, frames: number): MimiCodes {
  const data = new Int32Array(codebooks * frames);
  let at = 0;
  for (const chunk of chunks) {
    const count = chunk.length / codebooks;
    for (let c = 0; c < codebooks; c++) data.set(chunk.subarray(c * count, (c + 1) * count), c * frames + at);
    at += count;
  }
  return { codebooks, frames, data };
}
