/**
 * Deterministic random-weight checkpoints of the real LFM2 shapes (architecture notes §1.9, §2.5),
 * written as Hugging Face folders (config.json + bf16 model.safetensors), streamed tensor by tensor.
 */
import { closeSync, existsSync, mkdirSync, openSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { GgufEntry } from "@lfmkit/core";
import { byteLevelAlphabet, ggufTokenizerEntries } from "@lfmkit/tokenizer";

const ATTENTION_LAYERS_DENSE = [2, 5, 8, 10, 12, 14];

export const SHAPES = {
  "lfm2-350m": { hidden: 1024, layers: 16, attention: ATTENTION_LAYERS_DENSE, heads: 16, ffn: 6656 },
  "lfm2-1.2b": { hidden: 2048, layers: 16, attention: ATTENTION_LAYERS_DENSE, heads: 32, ffn: 12288 },
  "lfm2-8b-a1b": {
    hidden: 2048,
    layers: 24,
    attention: [2, 6, 10, 14, 18, 21],
    heads: 32,
    ffn: 7168,
    moe: { experts: 32, perToken: 4, width: 1792, denseLayers: 2 },
  },
  /** Not a released model: an LFM2-MoE of the 8B-A1B's layout at a small size, for trying `bench:moe` out (138 MB of bf16). */
  "lfm2-moe-small": {
    hidden: 512,
    layers: 6,
    attention: [2, 4],
    heads: 8,
    ffn: 1536,
    moe: { experts: 8, perToken: 2, width: 512, denseLayers: 2 },
  },
} as const;

export type ShapeName = keyof typeof SHAPES;
/** Vocabulary size of every synthetic shape (the LFM2 tokenizer's). */
export const SHAPE_VOCAB = 65536;
const VOCAB = SHAPE_VOCAB;
const KV_HEADS = 8;

export function syntheticConfig(name: ShapeName): Record<string, unknown> {
  const shape = SHAPES[name];
  const moe = "moe" in shape ? shape.moe : undefined;
  return {
    architectures: [moe ? "Lfm2MoeForCausalLM" : "Lfm2ForCausalLM"],
    model_type: moe ? "lfm2_moe" : "lfm2",
    vocab_size: VOCAB,
    hidden_size: shape.hidden,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    num_key_value_heads: KV_HEADS,
    layer_types: Array.from({ length: shape.layers }, (_, i) => ((shape.attention as readonly number[]).includes(i) ? "full_attention" : "conv")),
    intermediate_size: shape.ffn,
    block_auto_adjust_ff_dim: !moe,
    block_ffn_dim_multiplier: 1.0,
    block_multiple_of: 256,
    max_position_embeddings: 128000,
    norm_eps: 1e-5,
    rope_parameters: { rope_theta: 1000000.0, rope_type: "default" },
    conv_L_cache: 3,
    conv_bias: false,
    tie_word_embeddings: true,
    bos_token_id: 1,
    eos_token_id: 7,
    pad_token_id: 0,
    dtype: "bfloat16",
    ...(moe
      ? {
          num_experts: moe.experts,
          num_experts_per_tok: moe.perToken,
          moe_intermediate_size: moe.width,
          num_dense_layers: moe.denseLayers,
          use_expert_bias: true,
          norm_topk_prob: true,
          routed_scaling_factor: 1.0,
        }
      : {}),
  };
}

/** Tensor names and shapes of a shape's checkpoint, in file order. */
export function syntheticTensors(name: ShapeName): { name: string; shape: number[]; dtype: "BF16" | "F32" }[] {
  const shape = SHAPES[name];
  const D = shape.hidden;
  const headDim = D / shape.heads;
  const moe = "moe" in shape ? shape.moe : undefined;
  const denseFfn = moe ? shape.ffn : 256 * Math.ceil(Math.trunc((2 * shape.ffn) / 3) / 256);
  const tensors: { name: string; shape: number[]; dtype: "BF16" | "F32" }[] = [];
  const add = (n: string, s: number[], dtype: "BF16" | "F32" = "BF16") => tensors.push({ name: `model.${n}`, shape: s, dtype });
  add("embed_tokens.weight", [VOCAB, D]);
  add("embedding_norm.weight", [D]);
  for (let i = 0; i < shape.layers; i++) {
    const l = `layers.${i}`;
    add(`${l}.operator_norm.weight`, [D]);
    add(`${l}.ffn_norm.weight`, [D]);
    if ((shape.attention as readonly number[]).includes(i)) {
      add(`${l}.self_attn.q_proj.weight`, [D, D]);
      add(`${l}.self_attn.k_proj.weight`, [KV_HEADS * headDim, D]);
      add(`${l}.self_attn.v_proj.weight`, [KV_HEADS * headDim, D]);
      add(`${l}.self_attn.out_proj.weight`, [D, D]);
      add(`${l}.self_attn.q_layernorm.weight`, [headDim]);
      add(`${l}.self_attn.k_layernorm.weight`, [headDim]);
    } else {
      add(`${l}.conv.in_proj.weight`, [3 * D, D]);
      add(`${l}.conv.conv.weight`, [D, 1, 3]);
      add(`${l}.conv.out_proj.weight`, [D, D]);
    }
    if (moe && i >= moe.denseLayers) {
      add(`${l}.feed_forward.gate.weight`, [moe.experts, D]);
      add(`${l}.feed_forward.expert_bias`, [moe.experts], "F32");
      for (let e = 0; e < moe.experts; e++) {
        add(`${l}.feed_forward.experts.${e}.w1.weight`, [moe.width, D]);
        add(`${l}.feed_forward.experts.${e}.w3.weight`, [moe.width, D]);
        add(`${l}.feed_forward.experts.${e}.w2.weight`, [D, moe.width]);
      }
    } else {
      add(`${l}.feed_forward.w1.weight`, [denseFfn, D]);
      add(`${l}.feed_forward.w3.weight`, [denseFfn, D]);
      add(`${l}.feed_forward.w2.weight`, [D, denseFfn]);
    }
  }
  return tensors;
}

/** A pool of random bf16 values around ±0.02 (norm weights near 1), reused at shifting offsets. */
function randomPool(values: number, seed: number, center: number): Uint16Array {
  const pool = new Uint16Array(values);
  const view = new DataView(new ArrayBuffer(4));
  let state = seed >>> 0 || 1;
  for (let i = 0; i < values; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    const uniform = (state >>> 0) / 4294967296 - 0.5;
    view.setFloat32(0, center + uniform * 0.08);
    pool[i] = view.getUint16(0);
  }
  return pool;
}

/** Writes the folder unless it already holds a finished checkpoint; returns its path. */
export function writeSyntheticCheckpoint(name: ShapeName, root: string): string {
  const dir = join(root, name);
  const config = join(dir, "config.json");
  if (existsSync(config)) return dir;
  mkdirSync(dir, { recursive: true });
  const tensors = syntheticTensors(name);
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * (t.dtype === "F32" ? 4 : 2);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const headerBytes = Buffer.from(JSON.stringify(header));
  const fd = openSync(join(dir, "model.safetensors"), "w");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.length));
  writeSync(fd, length);
  writeSync(fd, headerBytes);
  const weights = randomPool(1 << 24, 12345, 0);
  const norms = randomPool(1 << 16, 777, 1);
  let cursor = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.dtype === "F32") {
      writeSync(fd, new Float32Array(count));
      continue;
    }
    const pool = t.shape.length === 1 ? norms : weights;
    for (let done = 0; done < count; ) {
      const start = cursor % (pool.length - 1);
      const n = Math.min(count - done, pool.length - start);
      writeSync(fd, pool.subarray(start, start + n));
      done += n;
      cursor += n * 7 + 1;
    }
  }
  closeSync(fd);
  writeFileSync(config, JSON.stringify(syntheticConfig(name), null, 2));
  return dir;
}

const CONTROL_TOKENS = ["<|pad|>", "<|startoftext|>", "<|endoftext|>", "<|fim_pre|>", "<|fim_mid|>", "<|fim_suf|>", "<|im_start|>", "<|im_end|>"];

/**
 * tokenizer.ggml.* metadata of a synthetic byte-level BPE vocabulary of `size` tokens: LFM2's control
 * tokens, the 256 byte symbols, then merges of two byte symbols. The benchmarks feed token ids, so
 * only its shape matters; it is a consistent vocabulary llama.cpp accepts. With `chatTemplate`, the
 * file also serves the chat path.
 */
export function syntheticTokenizerMetadata(size: number, chatTemplate?: string): Record<string, GgufEntry> {
  const bytes = byteLevelAlphabet();
  const tokens = [...CONTROL_TOKENS, ...bytes];
  const merges: string[] = [];
  for (let i = 0; tokens.length < size; i++) {
    const [a, b] = [bytes[i % 256], bytes[Math.floor(i / 256) % 256]];
    tokens.push(a + b);
    merges.push(`${a} ${b}`);
  }
  const controlIds = new Set(CONTROL_TOKENS.map((_, id) => id));
  return ggufTokenizerEntries({ tokens, controlIds, merges, bosId: 1, eosId: 7, padId: 0, addBos: true, chatTemplate });
}
