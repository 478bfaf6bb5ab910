/**
 * LFM2-VL (architecture notes §3): the vision tower and projector turn each image into tokens; the
 * prompt's `<image>` placeholders expand to the image's token layout; the image features replace the
 * image-token rows of the text embeddings; the LFM2 decoder prefills and decodes as for text.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { TextModel } from "@lfmkit/text";
import { TextTokenizer } from "@lfmkit/tokenizer";
import {
  IMAGE_TOKEN,
  VisionEncoder,
  decodeImage,
  expandImagePlaceholders,
  imageLayout,
  preprocessImages,
  readImageProcessorSettings,
  type ImageProcessorSettings,
} from "@lfmkit/vision";
import { DEFAULT_PREFIX_CACHE_BYTES, type ChatEvent, type ChatModel, type ChatModelOptions, type ChatOptions } from "./chat-model.js";
import { decode, digestOf, refuseAudioGeneration } from "./generation.js";
import { PrefixCache } from "./prefix-cache.js";
import { PromptTokens } from "./prompt-tokens.js";
import { mediaSource } from "./media.js";
import { partsOf, type Message } from "./messages.js";
import { templateMessages } from "./template-messages.js";

export interface VisionLanguageOptions extends ChatModelOptions {
  /** Overrides of the folder's image processor settings (processor_config.json). */
  imageProcessor?: Partial<ImageProcessorSettings>;
  /** Images with more pixels than this are refused from their header. */
  maxImagePixels?: number;
}

export class VisionLanguageChat implements ChatModel {
  readonly architecture = "vision-language";

  private constructor(
    readonly decoder: TextModel,
    readonly encoder: VisionEncoder,
    readonly tokenizer: TextTokenizer,
    readonly imageSettings: ImageProcessorSettings,
    private readonly imageTokenId: number,
    private readonly maxImagePixels: number | undefined,
    readonly prefixes: PrefixCache,
  ) {
    this.promptTokens = new PromptTokens(tokenizer);
  }

  private readonly promptTokens: PromptTokens;

  static async load(path: string, options: VisionLanguageOptions = {}): Promise<VisionLanguageChat> {
    const { imageProcessor, maxImagePixels, prefixCacheBytes = DEFAULT_PREFIX_CACHE_BYTES, ...loadOptions } = options;
    const tokenizer = TextTokenizer.load(path);
    const imageSettings = { ...readImageProcessorSettings(path), ...imageProcessor };
    const imageTokenId = readImageTokenId(path, tokenizer);
    const decoder = await TextModel.load(path, loadOptions);
    try {
      const encoder = await VisionEncoder.load(path, { weightFormat: loadOptions.weightFormat, threads: loadOptions.threads, cacheDir: loadOptions.cacheDir });
      return new VisionLanguageChat(decoder, encoder, tokenizer, imageSettings, imageTokenId, maxImagePixels, new PrefixCache(prefixCacheBytes));
    } catch (error) {
      await decoder.dispose();
      throw error;
    }
  }

  get keptBytes(): number {
    return this.prefixes.heldBytes;
  }

  get path(): string {
    return this.decoder.path;
  }

  async *chat(messages: readonly Message[], options: ChatOptions = {}): AsyncGenerator<ChatEvent> {
    refuseAudioGeneration(options, this.path);
    if (partsOf(messages, "audio").length > 0) throw new LfmkitError("this vision-language model cannot take audio input", this.path);
    const images = await Promise.all(
      partsOf(messages, "image").map((part) => decodeImage(mediaSource(part.image, "image"), { maxPixels: this.maxImagePixels })),
    );
    const template = this.tokenizer.applyChatTemplate(templateMessages(messages), { addGenerationPrompt: true, tools: options.tools ? [...options.tools] : undefined });
    const layouts = images.map((image) => imageLayout(image, this.imageSettings));
    const ids = this.promptTokens.encode(expandImagePlaceholders(template, layouts, this.imageSettings));
    const key = { ids, images: images.map((image) => digestOf(image.data)) };
    const kept = this.prefixes.take(key);
    const start = kept?.state.position ?? 0;
    const embeddings = this.decoder.embed(ids.slice(start));
    const unseen = images.slice(kept?.images ?? 0);
    if (unseen.length > 0) {
      const { features } = await this.encoder.encode(preprocessImages(unseen, this.imageSettings).batch);
      spliceImageFeatures(embeddings, ids.slice(start), this.imageTokenId, features, this.decoder.config.hiddenSize);
    }
    yield* decode(this.decoder, this.tokenizer, { key, state: kept?.state, logits: kept?.logits, embeddings }, options, this.prefixes);
  }

  complete(promptIds: readonly number[], options: ChatOptions = {}): AsyncIterable<ChatEvent> {
    if (promptIds.includes(this.imageTokenId)) throw new LfmkitError("image tokens in raw prompt ids need their image: use chat() with an image part", this.path);
    const key = { ids: promptIds, images: [] };
    const kept = this.prefixes.take(key);
    return decode(this.decoder, this.tokenizer, { key, state: kept?.state, logits: kept?.logits }, options, this.prefixes);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.decoder.dispose(), this.encoder.dispose()]);
  }
}

/** Writes the image features, in order, over the embedding rows of the image tokens. */
export function spliceImageFeatures(embeddings: Float32Array, ids: readonly number[], imageTokenId: number, features: Float32Array, hidden: number): void {
  const rows = features.length / hidden;
  let next = 0;
  ids.forEach((id, position) => {
    if (id !== imageTokenId) return;
    if (next >= rows) throw new LfmkitError(`the prompt has more image tokens than the ${rows} image features`);
    embeddings.set(features.subarray(next * hidden, (next + 1) * hidden), position * hidden);
    next++;
  });
  if (next !== rows) throw new LfmkitError(`the prompt has ${next} image tokens for ${rows} image features`);
}

/** `image_token_id` (or the older `image_token_index`) of config.json, else the tokenizer's id of `<image>`. */
function readImageTokenId(path: string, tokenizer: TextTokenizer): number {
  const config = JSON.parse(readFileSync(join(path, "config.json"), "utf8")) as Record<string, unknown>;
  const fromConfig = config.image_token_id ?? config.image_token_index;
  if (typeof fromConfig === "number") return fromConfig;
  const ids = tokenizer.encode(IMAGE_TOKEN);
  if (ids.length !== 1) throw new LfmkitError(`the tokenizer has no single ${IMAGE_TOKEN} token`, path);
  return ids[0];
}
