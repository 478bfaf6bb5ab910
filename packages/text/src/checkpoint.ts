/**
 * Where a decoder's config and weights come from: a Hugging Face folder (config.json + safetensors)
 * or a llama.cpp GGUF file. Both answer in Hugging Face tensor names relative to the decoder.
 */
import { Checkpoint, GgufFile, LfmkitError, ggmlBlockQuantization, type GgufValue, type WeightSource } from "@lfmkit/core";
import { parseTextConfig, readTextConfig, type Lfm2Config } from "./config.js";
import { ggufTensorFor } from "./gguf-names.js";

export interface TextCheckpoint {
  readonly config: Lfm2Config;
  /** Files whose contents the built graph depends on. */
  readonly files: readonly string[];
  /** A tensor by its Hugging Face name without the decoder prefix (`lm_head.weight` as is), if present. */
  weight(name: string): WeightSource | undefined;
}

export function openTextCheckpoint(path: string): TextCheckpoint {
  return path.toLowerCase().endsWith(".gguf") ? openGguf(path) : openFolder(path);
}

function openFolder(dir: string): TextCheckpoint {
  const { config, prefix } = readTextConfig(dir);
  const checkpoint = Checkpoint.open(dir);
  return {
    config,
    files: checkpoint.files,
    weight: (name) => {
      const found = [prefix + name, name].find((n) => checkpoint.has(n));
      return found === undefined ? undefined : checkpoint.source(found);
    },
  };
}

function openGguf(path: string): TextCheckpoint {
  const file = GgufFile.open(path);
  const config = ggufConfig(file);
  return {
    config,
    files: [path],
    weight: (name) => {
      const location = ggufTensorFor(name);
      const info = location && file.tensors.get(location.name);
      if (!location || !info) return undefined;
      const shape = location.expert === undefined ? info.shape : info.shape.slice(1);
      const quantized = ggmlBlockQuantization(info.type);
      const blocks = quantized && shape.length === 2 ? () => file.readBlocks(location.name, location.expert) : undefined;
      return { name, shape, read: () => file.readF32(location.name, location.expert), quantized, blocks };
    },
  };
}

/** The decoder config from GGUF metadata (`lfm2` or `lfm2moe`), expressed as an HF config. */
function ggufConfig(file: GgufFile): Lfm2Config {
  const meta = file.metadata;
  const arch = String(meta.get("general.architecture") ?? "(missing)");
  const where = `${file.path}: metadata`;
  if (arch !== "lfm2" && arch !== "lfm2moe") throw new LfmkitError(`unknown general.architecture "${arch}" (lfmkit runs lfm2, lfm2moe)`, where);
  const num = (key: string, fallback?: number): number => {
    const value = meta.get(`${arch}.${key}`);
    if (value === undefined) {
      if (fallback !== undefined) return fallback;
      throw new LfmkitError(`${arch}.${key} is missing`, where);
    }
    return Number(value as number | bigint);
  };
  const layers = num("block_count");
  const kvPerLayer = meta.get(`${arch}.attention.head_count_kv`) as GgufValue;
  const kvHeads = Array.isArray(kvPerLayer) ? kvPerLayer.map(Number) : Array.from({ length: layers }, () => Number(kvPerLayer));
  const tokens = meta.get("tokenizer.ggml.tokens");
  const isMoe = arch === "lfm2moe";
  return parseTextConfig(
    {
      model_type: isMoe ? "lfm2_moe" : "lfm2",
      vocab_size: num("vocab_size", Array.isArray(tokens) ? tokens.length : undefined),
      hidden_size: num("embedding_length"),
      num_hidden_layers: layers,
      num_attention_heads: num("attention.head_count"),
      num_key_value_heads: Math.max(...kvHeads),
      layer_types: kvHeads.map((kv) => (kv === 0 ? "conv" : "full_attention")),
      norm_eps: num("attention.layer_norm_rms_epsilon", 1e-5),
      rope_theta: num("rope.freq_base", 1e6),
      max_position_embeddings: num("context_length", 128000),
      conv_L_cache: num("shortconv.l_cache", 3),
      intermediate_size: num("feed_forward_length"),
      block_auto_adjust_ff_dim: false,
      tie_word_embeddings: !file.tensors.has("output.weight"),
      eos_token_id: meta.has("tokenizer.ggml.eos_token_id") ? Number(meta.get("tokenizer.ggml.eos_token_id")) : undefined,
      bos_token_id: meta.has("tokenizer.ggml.bos_token_id") ? Number(meta.get("tokenizer.ggml.bos_token_id")) : undefined,
      ...(isMoe
        ? {
            num_experts: num("expert_count"),
            num_experts_per_tok: num("expert_used_count"),
            moe_intermediate_size: num("expert_feed_forward_length"),
            num_dense_layers: num("leading_dense_block_count", 0),
            use_expert_bias: [...file.tensors.keys()].some((n) => n.endsWith(".exp_probs_b.bias")),
            norm_topk_prob: true,
          }
        : {}),
    },
    where,
  );
}
