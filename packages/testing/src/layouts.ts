/** Rewrites of a fixture folder into the other published layouts of the same checkpoint. */
import { existsSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { readJson, scratchDir } from "./fixtures.js";

/**
 * A copy of a checkpoint folder in the older published layout: `full_attn_idxs` instead of
 * `layer_types`, top-level `rope_theta`, `block_ff_dim`, `tie_embedding`, `torch_dtype`, and the chat
 * template inside tokenizer_config.json (`PreTrainedTokenizerFast`, special tokens as objects).
 * Weights and tokenizer.json are linked, not copied.
 */
export function legacyLayoutCopy(dir: string): string {
  const out = scratchDir("legacy");
  if (existsSync(join(dir, "config.json"))) writeFileSync(join(out, "config.json"), JSON.stringify(legacyConfig(readJson(join(dir, "config.json"))), null, 2));

  const tokenizerConfig = existsSync(join(dir, "tokenizer_config.json")) ? readJson(join(dir, "tokenizer_config.json")) : {};
  const legacyTokenizer: Record<string, unknown> = { ...tokenizerConfig, tokenizer_class: "PreTrainedTokenizerFast" };
  for (const key of ["bos_token", "eos_token", "pad_token"]) {
    const token = tokenizerConfig[key];
    if (typeof token === "string") legacyTokenizer[key] = { content: token, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  if (existsSync(join(dir, "chat_template.jinja"))) legacyTokenizer.chat_template = readFileSync(join(dir, "chat_template.jinja"), "utf8");
  writeFileSync(join(out, "tokenizer_config.json"), JSON.stringify(legacyTokenizer, null, 2));

  for (const name of readdirSync(dir)) {
    if (!["config.json", "tokenizer_config.json", "chat_template.jinja"].includes(name)) symlinkSync(join(dir, name), join(out, name));
  }
  return out;
}

function legacyConfig(config: Record<string, any>): Record<string, unknown> {
  const legacy: Record<string, unknown> = { ...config };
  if (Array.isArray(config.layer_types)) {
    legacy.full_attn_idxs = config.layer_types.flatMap((t: string, i: number) => (t === "full_attention" ? [i] : []));
    delete legacy.layer_types;
  }
  if (config.rope_parameters) {
    legacy.rope_theta = config.rope_parameters.rope_theta;
    delete legacy.rope_parameters;
  }
  if (config.model_type === "lfm2" && config.intermediate_size !== undefined) {
    legacy.block_ff_dim = config.intermediate_size;
    delete legacy.intermediate_size;
  }
  if (config.tie_word_embeddings !== undefined) {
    legacy.tie_embedding = config.tie_word_embeddings;
    delete legacy.tie_word_embeddings;
  }
  if (config.dtype !== undefined) {
    legacy.torch_dtype = config.dtype;
    delete legacy.dtype;
  }
  return legacy;
}
