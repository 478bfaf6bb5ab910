/**
 * Byte-level BPE tokenizers in llama.cpp's GGUF metadata (tokenizer.ggml.*): written from a
 * tokenizer.json folder, and rebuilt as a tokenizer.json from a GGUF file.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { GgufFile, LfmkitError, type GgufEntry } from "@lfmkit/core";

const TOKEN_TYPE = { normal: 1, control: 3 } as const;

/**
 * llama.cpp's "lfm2" pre-tokenizer (its LLaMA-3 regex: contractions, letters, digits in groups of at
 * most three, punctuation, newlines, spaces), as the LFM2 tokenizer.json writes it.
 */
const PRE_TOKENIZER_PATTERNS: Record<string, string> = {
  lfm2: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
};

interface TokenizerJson {
  model: { vocab: Record<string, number>; merges: (string | [string, string])[] };
  added_tokens: { id: number; content: string; special: boolean }[];
  post_processor?: { type?: string; single?: unknown[] } | null;
}

/** A byte-level BPE vocabulary as GGUF stores it. */
export interface GgufVocabulary {
  /** Token strings by id. */
  readonly tokens: readonly string[];
  /** Ids of control (special) tokens; every other token is normal. */
  readonly controlIds: ReadonlySet<number>;
  /** "a b" pairs, highest priority first. */
  readonly merges: readonly string[];
  readonly bosId?: number;
  readonly eosId?: number;
  readonly padId?: number;
  readonly addBos: boolean;
  readonly chatTemplate?: string;
}

/** tokenizer.ggml.* metadata for a vocabulary (llama.cpp's "gpt2" model with the "lfm2" pre-tokenizer). */
export function ggufTokenizerEntries(vocabulary: GgufVocabulary): Record<string, GgufEntry> {
  const entries: Record<string, GgufEntry> = {
    "tokenizer.ggml.model": { type: "string", value: "gpt2" },
    "tokenizer.ggml.pre": { type: "string", value: "lfm2" },
    "tokenizer.ggml.tokens": { type: "string[]", value: vocabulary.tokens },
    "tokenizer.ggml.token_type": { type: "i32[]", value: vocabulary.tokens.map((_, id) => (vocabulary.controlIds.has(id) ? TOKEN_TYPE.control : TOKEN_TYPE.normal)) },
    "tokenizer.ggml.merges": { type: "string[]", value: vocabulary.merges },
    "tokenizer.ggml.add_bos_token": { type: "bool", value: vocabulary.addBos },
  };
  for (const [key, id] of [["bos", vocabulary.bosId], ["eos", vocabulary.eosId], ["padding", vocabulary.padId]] as const) {
    if (id !== undefined) entries[`tokenizer.ggml.${key}_token_id`] = { type: "u32", value: id };
  }
  if (vocabulary.chatTemplate) entries["tokenizer.chat_template"] = { type: "string", value: vocabulary.chatTemplate };
  return entries;
}

/** The vocabulary of the tokenizer folder `dir` (tokenizer.json, tokenizer_config.json, chat template). */
export function folderVocabulary(dir: string): GgufVocabulary {
  const json = JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")) as TokenizerJson;
  const config = existsSync(join(dir, "tokenizer_config.json")) ? JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")) : {};
  const size = Math.max(...Object.values(json.model.vocab), ...json.added_tokens.map((t) => t.id)) + 1;
  const tokens = new Array<string>(size).fill("");
  for (const [piece, id] of Object.entries(json.model.vocab)) tokens[id] = piece;
  for (const t of json.added_tokens) tokens[t.id] = t.content;
  const idOf = (token: unknown) => {
    const content = typeof token === "string" ? token : (token as { content?: string } | undefined)?.content;
    const id = content === undefined ? -1 : tokens.indexOf(content);
    return id >= 0 ? id : undefined;
  };
  const templatePath = join(dir, "chat_template.jinja");
  return {
    tokens,
    controlIds: new Set(json.added_tokens.filter((t) => t.special).map((t) => t.id)),
    merges: json.model.merges.map((m) => (Array.isArray(m) ? m.join(" ") : m)),
    bosId: idOf(config.bos_token),
    eosId: idOf(config.eos_token),
    padId: idOf(config.pad_token),
    addBos: json.post_processor?.type === "TemplateProcessing",
    chatTemplate: existsSync(templatePath) ? readFileSync(templatePath, "utf8") : typeof config.chat_template === "string" ? config.chat_template : undefined,
  };
}

/** The tokenizer.json and tokenizer_config.json equivalent to a GGUF file's tokenizer metadata. */
export function tokenizerFilesFromGguf(path: string): { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } {
  const meta = GgufFile.open(path).metadata;
  const model = meta.get("tokenizer.ggml.model");
  const pre = String(meta.get("tokenizer.ggml.pre") ?? "default");
  if (model !== "gpt2") throw new LfmkitError(`tokenizer.ggml.model "${String(model)}" is not supported (byte-level BPE "gpt2")`, path);
  const pattern = PRE_TOKENIZER_PATTERNS[pre];
  if (!pattern) throw new LfmkitError(`tokenizer.ggml.pre "${pre}" is not supported (${Object.keys(PRE_TOKENIZER_PATTERNS).join(", ")})`, path);
  const tokens = meta.get("tokenizer.ggml.tokens") as string[];
  const types = (meta.get("tokenizer.ggml.token_type") as number[] | undefined) ?? [];
  const merges = (meta.get("tokenizer.ggml.merges") as string[] | undefined) ?? [];
  const tokenAt = (key: string) => (meta.has(key) ? tokens[Number(meta.get(key))] : undefined);
  const bos = tokenAt("tokenizer.ggml.bos_token_id");
  const addBos = meta.get("tokenizer.ggml.add_bos_token") === true && bos !== undefined;
  const control = tokens.flatMap((content, id) => (types[id] === TOKEN_TYPE.control ? [{ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }] : []));
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: control,
    normalizer: null,
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [
        { type: "Split", pattern: { Regex: pattern }, behavior: "Isolated", invert: false },
        { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: addBos
      ? {
          type: "TemplateProcessing",
          single: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }],
          pair: [{ SpecialToken: { id: bos, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { Sequence: { id: "B", type_id: 0 } }],
          special_tokens: { [bos]: { id: bos, ids: [tokens.indexOf(bos)], tokens: [bos] } },
        }
      : null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(tokens.map((t, id) => [t, id])),
      merges,
    },
  };
  const tokenizerConfig: Record<string, unknown> = {
    bos_token: bos,
    eos_token: tokenAt("tokenizer.ggml.eos_token_id"),
    pad_token: tokenAt("tokenizer.ggml.padding_token_id"),
  };
  if (meta.has("tokenizer.chat_template")) tokenizerConfig.chat_template = String(meta.get("tokenizer.chat_template"));
  return { tokenizerJson, tokenizerConfig };
}
