import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { Tokenizer } from "@huggingface/tokenizers";
import { LfmkitError } from "@lfmkit/core";
import { z } from "zod";
import { byteLevelPieceToBytes } from "./byte-level.js";
import { tokenizerFilesFromGguf } from "./gguf.js";
import { StreamDecoder } from "./stream-decoder.js";

/** A special token in tokenizer_config.json: a plain string, or the older AddedToken object. */
const tokenSpec = z.union([z.string(), z.object({ content: z.string() }).passthrough()]).nullish();
const templateSpec = z.union([z.string(), z.array(z.object({ name: z.string(), template: z.string() }))]);

const tokenizerConfigSchema = z
  .object({
    bos_token: tokenSpec,
    eos_token: tokenSpec,
    pad_token: tokenSpec,
    unk_token: tokenSpec,
    chat_template: templateSpec.optional(),
  })
  .passthrough();

const tokenizerJsonSchema = z
  .object({
    model: z.object({ type: z.string() }).passthrough(),
    decoder: z.object({ type: z.string() }).passthrough().nullish(),
    added_tokens: z.array(z.object({ id: z.number(), content: z.string(), special: z.boolean() }).passthrough()),
  })
  .passthrough();

export type ContentPart = { type: "text"; text: string } | { type: "image" } | { type: "audio" } | Record<string, unknown>;

export interface ChatMessage {
  role: string;
  content: string | ContentPart[];
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  tools?: unknown[];
  addGenerationPrompt?: boolean;
}

/**
 * A Hugging Face tokenizer folder: `tokenizer.json` plus `tokenizer_config.json`, with the chat
 * template from `chat_template.jinja` (current layout) or inside `tokenizer_config.json` (older layout).
 */
export class TextTokenizer {
  private readonly specialIds: ReadonlySet<number>;
  private readonly pieceBytes: (Uint8Array | undefined)[] = [];

  private constructor(
    private readonly tokenizer: Tokenizer,
    private readonly template: Template | undefined,
    private readonly specialTokens: Readonly<Record<string, string>>,
    addedTokens: readonly { id: number; content: string; special: boolean }[],
    readonly source: string,
  ) {
    this.specialIds = new Set(addedTokens.filter((t) => t.special).map((t) => t.id));
    for (const t of addedTokens) this.pieceBytes[t.id] = new TextEncoder().encode(t.content);
  }

  /** Loads a tokenizer folder, or the tokenizer stored in a GGUF file. */
  static load(path: string): TextTokenizer {
    if (path.toLowerCase().endsWith(".gguf")) {
      const { tokenizerJson, tokenizerConfig } = tokenizerFilesFromGguf(path);
      return TextTokenizer.fromJson(tokenizerJson, tokenizerConfig, undefined, path);
    }
    const tokenizerPath = join(path, "tokenizer.json");
    if (!existsSync(tokenizerPath)) throw new LfmkitError("tokenizer.json not found (the model folder needs its tokenizer)", path);
    const configPath = join(path, "tokenizer_config.json");
    const templatePath = join(path, "chat_template.jinja");
    return TextTokenizer.fromJson(
      readJsonFile(tokenizerPath),
      existsSync(configPath) ? readJsonFile(configPath) : {},
      existsSync(templatePath) ? readFileSync(templatePath, "utf8") : undefined,
      path,
    );
  }

  private static fromJson(tokenizerRaw: unknown, configRaw: unknown, templateFile: string | undefined, source: string): TextTokenizer {
    const tokenizerJson = validate(tokenizerRaw, tokenizerJsonSchema, `${source}: tokenizer.json`);
    if (tokenizerJson.decoder?.type !== "ByteLevel") {
      throw new LfmkitError(`decoder type ${tokenizerJson.decoder?.type ?? "none"} is not supported (LFM2 tokenizers are byte-level BPE)`, source);
    }
    const config = validate(configRaw, tokenizerConfigSchema, `${source}: tokenizer_config.json`);
    const templateText = templateFile ?? pickTemplate(config.chat_template);
    const specialTokens: Record<string, string> = {};
    for (const key of ["bos_token", "eos_token", "pad_token", "unk_token"] as const) {
      const value = config[key];
      if (value) specialTokens[key] = typeof value === "string" ? value : value.content;
    }
    let template: Template | undefined;
    try {
      template = templateText === undefined ? undefined : new Template(templateText);
    } catch (error) {
      throw new LfmkitError(`chat template does not parse (${(error as Error).message})`, source);
    }
    return new TextTokenizer(new Tokenizer(tokenizerJson, config), template, specialTokens, tokenizerJson.added_tokens, source);
  }

  get bosTokenId(): number | undefined {
    return this.idOf(this.specialTokens.bos_token);
  }

  get eosTokenId(): number | undefined {
    return this.idOf(this.specialTokens.eos_token);
  }

  get hasChatTemplate(): boolean {
    return this.template !== undefined;
  }

  /** Ids for `text`; with `addSpecialTokens` the tokenizer's post-processor adds BOS. */
  encode(text: string, { addSpecialTokens = false } = {}): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  decode(ids: readonly number[], { skipSpecialTokens = false } = {}): string {
    return this.tokenizer.decode([...ids], { skip_special_tokens: skipSpecialTokens });
  }

  isSpecial(id: number): boolean {
    return this.specialIds.has(id);
  }

  /** Renders messages with the checkpoint's own chat template. */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (!this.template) throw new LfmkitError("the tokenizer has no chat template (use a raw prompt instead)", this.source);
    return this.template.render({
      ...this.specialTokens,
      messages,
      tools: options.tools,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    });
  }

  /** A decoder for streamed ids; special tokens produce no text. */
  streamDecoder(): StreamDecoder {
    return new StreamDecoder((id) => (this.isSpecial(id) ? EMPTY : this.bytesOf(id)));
  }

  private bytesOf(id: number): Uint8Array {
    let bytes = this.pieceBytes[id];
    if (!bytes) {
      const piece = this.tokenizer.id_to_token(id);
      if (piece === undefined) throw new LfmkitError(`token id ${id} is outside the vocabulary`, this.source);
      bytes = byteLevelPieceToBytes(piece);
      this.pieceBytes[id] = bytes;
    }
    return bytes;
  }

  private idOf(token: string | undefined): number | undefined {
    return token === undefined ? undefined : this.tokenizer.token_to_id(token);
  }
}

const EMPTY = new Uint8Array(0);

function pickTemplate(spec: z.infer<typeof templateSpec> | undefined): string | undefined {
  if (spec === undefined || typeof spec === "string") return spec;
  return (spec.find((t) => t.name === "default") ?? spec[0])?.template;
}

function readJsonFile(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new LfmkitError(`not valid JSON (${(error as Error).message})`, path);
  }
}

function validate<T extends z.ZodType>(raw: unknown, schema: T, where: string): z.output<T> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new LfmkitError(`unexpected layout: ${parsed.error.issues[0]?.path.join(".")} ${parsed.error.issues[0]?.message}`, where);
  return parsed.data;
}
