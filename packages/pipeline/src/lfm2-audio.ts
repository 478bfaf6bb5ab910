/**
 * LFM2-Audio (architecture notes §4): speech (and text) in, text tokens and Mimi audio frames out,
 * as Liquid's reference (liquid-audio) computes them.
 *
 *   audio in:  WAV → float mono at 16 kHz → log-mel → FastConformer + adapter → backbone rows
 *   backbone:  the LFM2 decoder over text / audio-in / audio-out rows (lfm2-audio-conversation.ts)
 *   text out:  the backbone's logits
 *   audio out: the depthformer on the backbone's final hidden state, one frame of codes per step
 *              (depthformer.ts), fed back as the sum of the frame's audio_embedding rows
 *
 * The parts live in one folder: config.json with the sections `lfm`, `encoder`, `preprocessor`,
 * `depthformer`, and one set of safetensors with `lfm.*`, `conformer.*`, `audio_adapter.*`,
 * `audio_embedding.*`, `depth_linear.*`, `depthformer.*`, `depth_embeddings.*`, `codebook_offsets`.
 * Turning codes into audio is the Mimi codec's job: see `FrameDecoder`.
 */
import { graphLoadOptionsSchema, LfmkitError, linearPrecision } from "@lfmkit/core";
import { ConformerEncoder, loadAudio, logMel, readLogMelSettings, resample, type LogMelSettings } from "@lfmkit/audio";
import { TextModel } from "@lfmkit/text";
import { TextTokenizer } from "@lfmkit/tokenizer";
import { z } from "zod";
import { Depthformer } from "./depthformer.js";
import { readLFM2AudioConfig, type LFM2AudioConfig } from "./lfm2-audio-config.js";
import { LFM2AudioConversation, type AudioChatEvent, type AudioClip, type AudioGenerationOptions, type ConversationModel, type UserPart } from "./lfm2-audio-conversation.js";

export const lfm2AudioLoadOptionsSchema = graphLoadOptionsSchema;

export type LFM2AudioLoadOptions = z.input<typeof lfm2AudioLoadOptionsSchema>;


export class LFM2AudioModel implements ConversationModel {
  private constructor(
    readonly path: string,
    readonly config: LFM2AudioConfig,
    readonly tokenizer: TextTokenizer,
    readonly melSettings: LogMelSettings,
    readonly backbone: TextModel,
    readonly encoder: ConformerEncoder,
    readonly depthformer: Depthformer,
  ) {}

  static async load(path: string, options: LFM2AudioLoadOptions = {}): Promise<LFM2AudioModel> {
    const parsed = lfm2AudioLoadOptionsSchema.safeParse(options);
    if (!parsed.success) throw new LfmkitError(`${parsed.error.issues[0].path.join(".") || "options"}: ${parsed.error.issues[0].message}`, path);
    const settings = parsed.data;
    const config = readLFM2AudioConfig(path);
    const tokenizer = TextTokenizer.load(path);
    const melSettings = readLogMelSettings(path);
    const precision = linearPrecision(settings);
    const shared = { threads: settings.threads, cacheDir: settings.cacheDir };
    const loaded: { dispose(): Promise<void> }[] = [];
    try {
      const backbone = await TextModel.load(path, { ...settings, logits: "last", finalHidden: true });
      loaded.push(backbone);
      const encoder = await ConformerEncoder.load(path, { ...settings, adapter: true });
      loaded.push(encoder);
      if (encoder.width !== backbone.config.hiddenSize) throw new LfmkitError(`the audio adapter outputs ${encoder.width} values, the backbone takes ${backbone.config.hiddenSize}`, path);
      const depthformer = await Depthformer.load(path, config, { precision, ...shared });
      return new LFM2AudioModel(path, config, tokenizer, melSettings, backbone, encoder, depthformer);
    } catch (error) {
      await Promise.all(loaded.map((part) => part.dispose()));
      throw error;
    }
  }

  /** A new conversation: `<|startoftext|>`, then the system turn if any. */
  conversation(options: { system?: string } = {}): LFM2AudioConversation {
    return new LFM2AudioConversation(this, options.system);
  }

  /** One answer to one user turn, in a conversation of its own. */
  generate(turn: { system?: string; user: string | readonly UserPart[] }, options: AudioGenerationOptions = {}): AsyncGenerator<AudioChatEvent> {
    return this.conversation({ system: turn.system }).send(turn.user, options);
  }

  /**
   * A clip's audio-in rows [positions, hidden]: mono at the front end's rate (resampled as torchaudio
   * does), log-mel features, then the conformer and adapter over every feature frame (liquid-audio
   * counts them all as audio, the last masked one included).
   */
  async encodeAudio(clip: AudioClip): Promise<Float32Array> {
    const rate = this.melSettings.sampleRate;
    const samples = typeof clip === "string" || clip instanceof Uint8Array ? await loadAudio(clip, rate) : resample(clip.samples, clip.sampleRate, rate);
    if (samples.length === 0) throw new LfmkitError("the audio clip holds no samples", typeof clip === "string" ? clip : undefined);
    const mel = logMel(samples, this.melSettings);
    const encoded = await this.encoder.encode(mel.features, mel.frames);
    return encoded.features.subarray(0, encoded.validFrames * encoded.width);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.backbone.dispose(), this.encoder.dispose(), this.depthformer.dispose()]);
  }
}
