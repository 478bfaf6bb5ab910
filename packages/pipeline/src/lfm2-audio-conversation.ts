/**
 * An LFM2-Audio conversation (architecture notes §4.4, §4.5): the positions the backbone has seen,
 * built as liquid-audio's `ChatState` builds them, and the generation loops that answer a user turn
 * with text tokens and audio frames.
 *
 * Every position has a modality: text (a token's embedding row), audio in (a row of the conformer +
 * adapter output) or audio out (the summed audio_embedding rows of a generated frame). Rows are
 * appended as the conversation grows and run through the backbone once: a new user turn prefills
 * only what was added since the last step, after the decoder state the conversation keeps.
 */
import { concatFloat32, LfmkitError, Sampler, type SamplingOptions } from "@lfmkit/core";
import type { DecoderState, FinishReason, Timings, Usage } from "@lfmkit/text";
import { z } from "zod";
import type { DepthformerState } from "./depthformer.js";
import type { TextModel } from "@lfmkit/text";
import type { TextTokenizer } from "@lfmkit/tokenizer";
import type { Depthformer } from "./depthformer.js";
import type { LFM2AudioConfig } from "./lfm2-audio-config.js";
import { LOOP_TOKENS, scheduleFor, type GenerationMode } from "./lfm2-audio-schedule.js";

/** liquid-audio's `LFMModality` of a position. */
export const Modality = { text: 1, audioIn: 2, audioOut: 3 } as const;
export type Modality = (typeof Modality)[keyof typeof Modality];

/** Audio input: a WAV file path, a WAV file's bytes, or float mono samples at a rate. */
export type AudioClip = string | Uint8Array | { samples: Float32Array; sampleRate: number };

export type UserPart = { type: "text"; text: string } | { type: "audio"; audio: AudioClip };

/** The parts of LFM2-Audio a conversation runs (`LFM2AudioModel` is one). */
export interface ConversationModel {
  readonly config: LFM2AudioConfig;
  readonly tokenizer: TextTokenizer;
  readonly backbone: TextModel;
  readonly depthformer: Depthformer;
  encodeAudio(clip: AudioClip): Promise<Float32Array>;
}

/** One generation step as liquid-audio yields it: a text token, or a frame of one code per codebook. */
export type GeneratedStep = { text: number } | { audio: number[] };

/**
 * Where a streaming audio decoder plugs in (the Mimi detokenizer, e.g. `MimiDecoderStream.push` of
 * `codesFromFrames(frames)`): called in order with every generated frame that holds no end-of-audio
 * code (liquid-audio's demo skips those too), it returns the 24 kHz samples that continue the
 * answer's audio. Use a fresh one per answer.
 */
export interface FrameDecoder {
  decodeFrames(frames: readonly (readonly number[])[]): Promise<Float32Array> | Float32Array;
}

export type AudioChatEvent =
  | { type: "text"; id: number; text: string }
  | { type: "audio"; codes: number[] }
  | { type: "audio_chunk"; samples: Float32Array }
  | { type: "done"; finishReason: FinishReason; steps: GeneratedStep[]; text: string; usage: Usage; timings: Timings };

/** As liquid-audio's README examples generate. */
export const DEFAULT_MAX_NEW_TOKENS = 512;

const generationSchema = z.object({
  mode: z.enum(["interleaved", "sequential"]).default("interleaved"),
  /** Most steps to generate: text tokens and audio frames alike. */
  maxNewTokens: z.number().int().positive().default(DEFAULT_MAX_NEW_TOKENS),
  /** Text is greedy unless a temperature is given (as liquid-audio's defaults). */
  textTemperature: z.number().min(0).default(0),
  textTopK: z.number().int().min(0).default(0),
  /** liquid-audio README's audio sampling. 0 (or top-k 1) is greedy. */
  audioTemperature: z.number().min(0).default(1),
  audioTopK: z.number().int().min(0).default(4),
  seed: z.number().int().optional(),
});

export interface AudioGenerationOptions extends z.input<typeof generationSchema> {
  mode?: GenerationMode;
  signal?: AbortSignal;
  /** Also decode the frames to audio, as `audio_chunk` events after their `audio` events. */
  codec?: FrameDecoder;
}

const NO_PENALTY: ReadonlySet<number> = new Set();

export class LFM2AudioConversation {
  /** The text token of every text position, in order. */
  readonly textIds: number[] = [];
  /** The modality of every position, in order. */
  readonly modalities: Modality[] = [];
  /** The frame of every audio-out position, in order. */
  readonly audioFrames: number[][] = [];

  private readonly state: DecoderState;
  private readonly depthState: DepthformerState;
  /** Rows appended but not yet run through the backbone. */
  private pending: Float32Array[] = [];
  private awaitingAnswer = false;
  private answerOpen = false;
  private answerEndedWithImEnd = false;
  private busy = false;

  constructor(
    private readonly model: ConversationModel,
    system?: string,
  ) {
    this.state = model.backbone.newState();
    this.depthState = model.depthformer.newState();
    this.appendText("<|startoftext|>");
    if (system !== undefined) this.appendTurn("system", [{ type: "text", text: system }], []);
  }

  /** Positions in the conversation, run or pending. */
  /** Bytes of the backbone state the conversation keeps. */
  get bytes(): number {
    return this.state.bytes;
  }

  get length(): number {
    return this.modalities.length;
  }

  /** Positions the backbone has run; the rest are `pendingInput`. */
  get processed(): number {
    return this.state.position;
  }

  /** The rows appended since the backbone last ran, [positions, hidden]: what the next generation prefills. */
  get pendingInput(): Float32Array {
    return concatFloat32(this.pending);
  }

  /**
   * Appends a user turn (its audio encoded first, so a bad clip appends nothing) and opens the
   * assistant's. An answer before it is closed with `<|im_end|>`.
   */
  async addUserTurn(content: string | readonly UserPart[]): Promise<void> {
    const parts: readonly UserPart[] = typeof content === "string" ? [{ type: "text", text: content }] : content;
    this.checkIdle();
    this.busy = true;
    try {
      const audio = [];
      for (const part of parts) if (part.type === "audio") audio.push(await this.model.encodeAudio(part.audio));
      if (this.answerOpen) this.appendText(this.answerEndedWithImEnd ? "\n" : "<|im_end|>\n");
      this.appendTurn("user", parts, audio);
      this.appendText("<|im_start|>assistant\n");
      this.answerOpen = true;
      this.answerEndedWithImEnd = false;
      this.awaitingAnswer = true;
    } finally {
      this.busy = false;
    }
  }

  /** `addUserTurn`, then `generate`. */
  async *send(content: string | readonly UserPart[], options: AudioGenerationOptions = {}): AsyncGenerator<AudioChatEvent> {
    await this.addUserTurn(content);
    yield* this.generate(options);
  }

  /**
   * Streams the answer to the last user turn, as liquid-audio's `generate_interleaved` /
   * `generate_sequential`: "text" and "audio" events per step, then "done". Aborting `signal`
   * rejects the iteration with its reason; the conversation stays usable.
   */
  async *generate(options: AudioGenerationOptions = {}): AsyncGenerator<AudioChatEvent> {
    const settings = parseOptions(options);
    const { signal, codec } = options;
    if (!this.awaitingAnswer) throw new LfmkitError("the conversation has no user turn to answer: add one first");
    this.checkIdle();
    this.busy = true;
    try {
      signal?.throwIfAborted();
      this.awaitingAnswer = false;
      const { backbone, depthformer, tokenizer, config } = this.model;
      const schedule = scheduleFor(settings.mode, { text: config.interleavedText, audio: config.interleavedAudio });
      const textSampler = new Sampler(sampling(settings.textTemperature, settings.textTopK, settings.seed));
      const audioSampler = new Sampler(sampling(settings.audioTemperature, settings.audioTopK, settings.seed === undefined ? undefined : settings.seed + 1));
      const pickCode = (logits: Float32Array) => audioSampler.sample(logits, NO_PENALTY);
      const decoder = tokenizer.streamDecoder();
      const steps: GeneratedStep[] = [];
      let text = "";
      let finishReason: FinishReason = "length";
      const cachedPromptTokens = this.state.position;
      let promptTokens = 0;
      let prefillMs = 0;
      let firstStepMs = 0;
      const start = performance.now();

      while (steps.length < settings.maxNewTokens) {
        signal?.throwIfAborted();
        const input = concatFloat32(this.pending);
        if (this.state.position + input.length / backbone.config.hiddenSize > backbone.config.maxPositions && steps.length > 0) break;
        schedule.startStep();
        const { logits, finalHidden } = await backbone.forwardEmbeddings(this.state, input);
        this.pending = [];
        if (steps.length === 0) {
          promptTokens = this.state.position;
          prefillMs = performance.now() - start;
        }

        if (schedule.modality === "text") {
          const id = textSampler.sample(logits, NO_PENALTY);
          if (steps.length === 0) firstStepMs = performance.now() - start;
          const { emit, stop } = schedule.afterText(id);
          if (emit) {
            const piece = tokenizer.isSpecial(id) ? "" : decoder.push(id);
            text += piece;
            steps.push({ text: id });
            this.appendTextIds([id]);
            this.answerEndedWithImEnd = id === LOOP_TOKENS.imEnd;
            yield { type: "text", id, text: piece };
          }
          if (stop) {
            finishReason = "stop";
            break;
          }
        } else {
          const codes = await depthformer.sampleFrame(this.depthState, finalHidden!, pickCode);
          if (steps.length === 0) firstStepMs = performance.now() - start;
          const endOfAudio = codes[0] === depthformer.endOfAudio;
          if (endOfAudio) codes.fill(depthformer.endOfAudio);
          schedule.afterAudio(endOfAudio);
          steps.push({ audio: [...codes] });
          this.appendFrame(codes);
          yield { type: "audio", codes: [...codes] };
          if (codec && !codes.includes(depthformer.endOfAudio)) yield { type: "audio_chunk", samples: await codec.decodeFrames([codes]) };
        }
      }

      text += decoder.end();
      const decodeMs = performance.now() - start - prefillMs;
      const decodeSteps = Math.max(steps.length - 1, 0);
      yield {
        type: "done",
        finishReason,
        steps,
        text,
        usage: { promptTokens, cachedPromptTokens, completionTokens: steps.length, totalTokens: promptTokens + steps.length },
        timings: {
          prefillMs,
          decodeMs,
          timeToFirstTokenMs: firstStepMs,
          prefillTokensPerSecond: prefillMs > 0 ? ((promptTokens - cachedPromptTokens) / prefillMs) * 1000 : 0,
          decodeTokensPerSecond: decodeSteps > 0 ? (decodeSteps / decodeMs) * 1000 : 0,
        },
      };
    } finally {
      this.busy = false;
    }
  }

  /** `<|im_start|>{role}\n`, the parts in order (`audio` holds the audio parts' rows), `<|im_end|>\n`: as ChatState's new_turn, add_*, end_turn. */
  private appendTurn(role: "system" | "user", parts: readonly UserPart[], audio: readonly Float32Array[]): void {
    this.appendText(`<|im_start|>${role}\n`);
    let nextAudio = 0;
    for (const part of parts) {
      if (part.type === "text") this.appendText(part.text);
      else this.appendAudioIn(audio[nextAudio++]);
    }
    this.appendText("<|im_end|>\n");
  }

  /** Each piece is tokenized on its own, without special tokens added, as ChatState's add_text. */
  private appendText(text: string): void {
    this.appendTextIds(this.model.tokenizer.encode(text));
  }

  private appendTextIds(ids: readonly number[]): void {
    if (ids.length === 0) return;
    this.textIds.push(...ids);
    this.modalities.push(...ids.map(() => Modality.text));
    this.pending.push(this.model.backbone.embed(ids));
  }

  private appendAudioIn(rows: Float32Array): void {
    const positions = rows.length / this.model.backbone.config.hiddenSize;
    for (let i = 0; i < positions; i++) this.modalities.push(Modality.audioIn);
    this.pending.push(rows);
  }

  private appendFrame(codes: number[]): void {
    this.audioFrames.push(codes);
    this.modalities.push(Modality.audioOut);
    this.pending.push(this.model.depthformer.frameEmbedding(codes));
  }

  private checkIdle(): void {
    if (this.busy) throw new LfmkitError("the conversation is busy: wait for the running turn to finish");
  }
}

function parseOptions(options: AudioGenerationOptions): z.output<typeof generationSchema> {
  const { signal: _signal, codec: _codec, ...plain } = options;
  const parsed = generationSchema.safeParse(plain);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new LfmkitError(`${issue.path.join(".") || "options"}: ${issue.message}`);
  }
  return parsed.data;
}

/** liquid-audio samples with temperature and top-k only, greedy at temperature 0 or top-k 1. */
function sampling(temperature: number, topK: number, seed: number | undefined): SamplingOptions {
  return { temperature: topK === 1 ? 0 : temperature, topK, seed };
}

