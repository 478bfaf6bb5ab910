/**
 * Random-weight checkpoints of the released LFM2-VL-450M, LFM2-Audio-1.5B and Mimi (kyutai/mimi)
 * shapes, in the layouts of the fixtures in /work/shared/fixtures (lfm2-vl-tiny, lfm2-audio-tiny,
 * mimi-tiny): the tiny fixture's config.json with the published sizes substituted, and a tensor table
 * computed from that config. Each table is checked against the tiny fixture before anything is
 * written: the same function applied to the tiny fixture's config must reproduce its safetensors
 * header exactly (every name, shape and dtype), so the released-size file differs from the fixture
 * only in its sizes. As synthetic.ts: deterministic bf16 random weights (Mimi: float32, as the
 * published kyutai/mimi file), written once into `.work/`, tensor by tensor.
 *
 * Sources of the sizes (architecture notes, /work/shared/docs/architecture.md):
 * - LFM2-VL-450M: §3.2 (verbatim config.json copy: SigLIP2-NaFlex base tower 768 wide, 12 layers,
 *   12 heads, MLP 3072, patch 16, 16×16 position grid, no head; projector 2560 wide with LayerNorm;
 *   text model LFM2-350M, §1.9) and the processor settings of §3.2/§3.3.
 * - LFM2-Audio-1.5B: §4.1–§4.5 (backbone LFM2-1.2B of §1.9; FastConformer 17 layers × 512, 8 heads,
 *   ff ×4, dw_striding ×8 with 256 channels, conv kernel 9, 128 mels; adapter 512 → 2048 → 2048;
 *   depthformer 6 layers × 1024 (32 heads of 32, 8 KV heads, SwiGLU 2816); 8 codebooks of 2048 + 1
 *   end-of-audio; interleaved 6 text / 12 audio steps). The notes flag the conformer and depthformer
 *   numbers as third-party-reported (UNCONFIRMED).
 * - Mimi: §4.6 (transformers MimiConfig defaults = kyutai/mimi: 64 filters, ratios 8·6·5·4, latent
 *   512, 8-layer transformers of 8 heads × 64 with MLP 2048, 32 codebooks of 2048 × 256).
 */
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { nemoConformerConfig } from "@lfmkit/audio";
import { parseTextConfig } from "@lfmkit/text";
import { byteLevelAlphabet } from "@lfmkit/tokenizer";
import { parseVisionConfig } from "@lfmkit/vision";

export type DType = "BF16" | "F32" | "I64";

export interface TensorSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly dtype: DType;
  /** Exact integer contents (I64). */
  readonly ints?: readonly number[];
  /** Every element this value (e.g. a codebook's `initialized` flag). */
  readonly constant?: number;
}

type Json = Record<string, unknown>;

/** Vocabulary size of the released LFM2 tokenizer (every synthetic text model here). */
export const LFM2_VOCAB = 65536;
/** Entries per LFM2-Audio codebook: Mimi's 2048 codes, then end of audio (§4.1). */
const AUDIO_VOCAB = 2049;

// ---------------------------------------------------------------------------------------------------
// Published configs: the tiny fixture's config.json layout, with the released sizes.

/** LFM2-350M (§1.9; the text_config of the LFM2-VL-450M config copy) in the fixtures' text_config keys. */
function lfm2TextConfig(shape: { hidden: number; heads: number; ffn: number; maxPositions: number }): Json {
  const attention = [2, 5, 8, 10, 12, 14];
  return {
    block_auto_adjust_ff_dim: true,
    block_ffn_dim_multiplier: 1.0,
    block_multiple_of: 256,
    bos_token_id: 1,
    conv_L_cache: 3,
    conv_bias: false,
    eos_token_id: 7,
    full_attn_idxs: null,
    hidden_size: shape.hidden,
    initializer_range: 0.02,
    intermediate_size: shape.ffn,
    layer_types: Array.from({ length: 16 }, (_, i) => (attention.includes(i) ? "full_attention" : "conv")),
    max_position_embeddings: shape.maxPositions,
    model_type: "lfm2",
    norm_eps: 1e-5,
    num_attention_heads: shape.heads,
    num_hidden_layers: 16,
    num_key_value_heads: 8,
    pad_token_id: 0,
    rope_parameters: { rope_theta: 1000000.0, rope_type: "default" },
    tie_word_embeddings: true,
    use_cache: true,
    vocab_size: LFM2_VOCAB,
  };
}

/**
 * LFM2-VL-450M (§3.2). `image_token_id` is the synthetic tokenizer's `<image>` (14, the fixtures'
 * tokenizer; the released tokenizer has it at 396): only the id differs, not the token count.
 */
export function vl450mConfig(imageTokenId: number): Json {
  return {
    architectures: ["Lfm2VlForConditionalGeneration"],
    downsample_factor: 2,
    dtype: "bfloat16",
    image_token_id: imageTokenId,
    model_type: "lfm2_vl",
    projector_bias: true,
    projector_hidden_act: "gelu",
    projector_hidden_size: 2560,
    projector_use_layernorm: true,
    text_config: lfm2TextConfig({ hidden: 1024, heads: 16, ffn: 6656, maxPositions: 128000 }),
    tie_word_embeddings: true,
    vision_config: {
      attention_dropout: 0.0,
      hidden_act: "gelu_pytorch_tanh",
      hidden_size: 768,
      intermediate_size: 3072,
      layer_norm_eps: 1e-6,
      model_type: "siglip2_vision_model",
      num_attention_heads: 12,
      num_channels: 3,
      num_hidden_layers: 12,
      num_patches: 256,
      patch_size: 16,
      vision_use_head: false,
    },
    vision_feature_layer: -1,
  };
}

/** LFM2-VL-450M's processor settings (§3.2, verbatim copy: no thumbnail), in the fixture's layout. */
export function vl450mProcessorConfig(): Json {
  return {
    image_processor: {
      do_image_splitting: true,
      do_normalize: true,
      do_pad: true,
      do_rescale: true,
      do_resize: true,
      downsample_factor: 2,
      encoder_patch_size: 16,
      image_mean: [0.5, 0.5, 0.5],
      image_processor_type: "Lfm2VlImageProcessor",
      image_std: [0.5, 0.5, 0.5],
      max_image_tokens: 256,
      max_num_patches: 1024,
      max_pixels_tolerance: 2.0,
      max_tiles: 10,
      min_image_tokens: 64,
      min_tiles: 2,
      resample: 2,
      rescale_factor: 1 / 255,
      return_row_col_info: false,
      size: { height: 512, width: 512 },
      tile_size: 512,
      use_thumbnail: false,
    },
    processor_class: "Lfm2VlProcessor",
  };
}

/** LFM2-Audio-1.5B (§4.1–§4.5) in the layout of lfm2-audio-tiny/config.json. */
export function audio15bConfig(): Json {
  const lfm = lfm2TextConfig({ hidden: 2048, heads: 32, ffn: 12288, maxPositions: 128000 });
  return {
    architectures: ["LFM2AudioModel"],
    codebooks: 8,
    tie_audio_embeddings: false,
    semantic_codebook_factor: 100.0,
    codebook_weight: "log",
    interleaved_n_text: 6,
    interleaved_n_audio: 12,
    preprocessor: {
      sample_rate: 16000,
      normalize: "per_feature",
      window_size: 0.025,
      window_stride: 0.01,
      window: "hann",
      features: 128,
      n_fft: 512,
      log: true,
      frame_splicing: 1,
      dither: 1e-5,
      pad_to: 0,
      pad_value: 0.0,
    },
    encoder: {
      feat_in: 128,
      feat_out: -1,
      n_layers: 17,
      d_model: 512,
      subsampling: "dw_striding",
      subsampling_factor: 8,
      subsampling_conv_channels: 256,
      causal_downsampling: false,
      reduction: null,
      reduction_position: null,
      reduction_factor: 1,
      ff_expansion_factor: 4,
      self_attention_model: "rel_pos",
      n_heads: 8,
      att_context_size: [[-1, -1]],
      xscaling: false,
      untie_biases: true,
      pos_emb_max_len: 5000,
      conv_kernel_size: 9,
      conv_norm_type: "batch_norm",
      conv_context_size: null,
      dropout: 0.0,
      dropout_pre_encoder: 0.0,
      dropout_emb: 0.0,
      dropout_att: 0.0,
    },
    lfm: {
      vocab_size: LFM2_VOCAB,
      hidden_size: lfm.hidden_size,
      intermediate_size: lfm.intermediate_size,
      num_hidden_layers: lfm.num_hidden_layers,
      layer_types: lfm.layer_types,
      num_attention_heads: lfm.num_attention_heads,
      num_key_value_heads: lfm.num_key_value_heads,
      conv_L_cache: 3,
      conv_bias: false,
      block_auto_adjust_ff_dim: true,
      block_ffn_dim_multiplier: 1.0,
      block_multiple_of: 256,
      norm_eps: 1e-5,
      rope_theta: 1000000.0,
      max_position_embeddings: 128000,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 7,
      pad_token_id: 0,
      model_type: "lfm2",
      architectures: ["Lfm2ForCausalLM"],
    },
    depthformer: { layers: 6, dim: 1024, tie: true },
  };
}

/** kyutai/mimi (§4.6: transformers MimiConfig defaults) in the layout of mimi-tiny/config.json. */
export function mimiConfig(): Json {
  return {
    _frame_rate: 12.5,
    architectures: ["MimiModel"],
    attention_bias: false,
    attention_dropout: 0.0,
    audio_channels: 1,
    codebook_dim: 256,
    codebook_size: 2048,
    compress: 2,
    dilation_growth_rate: 2,
    dtype: "float32",
    head_dim: 64,
    hidden_act: "gelu",
    hidden_size: 512,
    initializer_range: 0.02,
    intermediate_size: 2048,
    kernel_size: 7,
    last_kernel_size: 3,
    layer_scale_initial_scale: 0.01,
    max_position_embeddings: 8000,
    model_type: "mimi",
    norm_eps: 1e-5,
    num_attention_heads: 8,
    num_filters: 64,
    num_hidden_layers: 8,
    num_key_value_heads: 8,
    num_quantizers: 32,
    num_residual_layers: 1,
    num_semantic_quantizers: 1,
    pad_mode: "constant",
    residual_kernel_size: 3,
    rope_parameters: { rope_theta: 10000.0, rope_type: "default" },
    sampling_rate: 24000,
    sliding_window: 250,
    tie_word_embeddings: true,
    trim_right_ratio: 1.0,
    upsample_groups: 512,
    upsampling_ratios: [8, 6, 5, 4],
    use_cache: false,
    use_causal_conv: true,
    use_conv_shortcut: false,
    use_streaming: false,
    vector_quantization_hidden_dimension: 256,
  };
}

// ---------------------------------------------------------------------------------------------------
// Tensor tables: config in, every tensor of the checkpoint out.

function table(dtype: DType) {
  const tensors: TensorSpec[] = [];
  const add = (name: string, shape: readonly number[], extra: Partial<TensorSpec> = {}) => tensors.push({ name, shape, dtype, ...extra });
  return { tensors, add };
}

/** An LFM2 decoder under `prefix` (§1.7), from a text config in any of the fixtures' layouts. */
function lfm2Tensors(prefix: string, raw: Json, dtype: DType): TensorSpec[] {
  const c = parseTextConfig({ model_type: "lfm2", ...raw }, prefix);
  const { tensors, add } = table(dtype);
  const D = c.hiddenSize;
  add(`${prefix}embed_tokens.weight`, [c.vocabSize, D]);
  add(`${prefix}embedding_norm.weight`, [D]);
  c.layerTypes.forEach((type, i) => {
    const l = `${prefix}layers.${i}`;
    add(`${l}.operator_norm.weight`, [D]);
    add(`${l}.ffn_norm.weight`, [D]);
    if (type === "full_attention") {
      add(`${l}.self_attn.q_proj.weight`, [c.heads * c.headDim, D]);
      add(`${l}.self_attn.k_proj.weight`, [c.kvHeads * c.headDim, D]);
      add(`${l}.self_attn.v_proj.weight`, [c.kvHeads * c.headDim, D]);
      add(`${l}.self_attn.out_proj.weight`, [D, c.heads * c.headDim]);
      add(`${l}.self_attn.q_layernorm.weight`, [c.headDim]);
      add(`${l}.self_attn.k_layernorm.weight`, [c.headDim]);
    } else {
      add(`${l}.conv.in_proj.weight`, [3 * D, D]);
      add(`${l}.conv.conv.weight`, [D, 1, c.convKernel]);
      add(`${l}.conv.out_proj.weight`, [D, D]);
    }
    add(`${l}.feed_forward.w1.weight`, [c.ffnWidth, D]);
    add(`${l}.feed_forward.w3.weight`, [c.ffnWidth, D]);
    add(`${l}.feed_forward.w2.weight`, [D, c.ffnWidth]);
  });
  return tensors;
}

/** LFM2-VL (§3.1, §3.5, §3.6) as transformers 5 saves it (the tower under `model.vision_tower.`). */
export function vlTensors(config: Json): TensorSpec[] {
  const vision = parseVisionConfig(config, "vl config");
  const visionRaw = config.vision_config as Json;
  const { tensors, add } = table("BF16");
  const t = vision.tower;
  const v = "model.vision_tower";
  add(`${v}.embeddings.patch_embedding.weight`, [t.hiddenSize, t.channels * t.patchSize ** 2]);
  add(`${v}.embeddings.patch_embedding.bias`, [t.hiddenSize]);
  add(`${v}.embeddings.position_embedding.weight`, [t.positionGridSide ** 2, t.hiddenSize]);
  for (let i = 0; i < (visionRaw.num_hidden_layers as number); i++) {
    const l = `${v}.encoder.layers.${i}`;
    for (const norm of ["layer_norm1", "layer_norm2"]) for (const p of ["weight", "bias"]) add(`${l}.${norm}.${p}`, [t.hiddenSize]);
    for (const proj of ["q_proj", "k_proj", "v_proj", "out_proj"]) {
      add(`${l}.self_attn.${proj}.weight`, [t.hiddenSize, t.hiddenSize]);
      add(`${l}.self_attn.${proj}.bias`, [t.hiddenSize]);
    }
    add(`${l}.mlp.fc1.weight`, [t.intermediateSize, t.hiddenSize]);
    add(`${l}.mlp.fc1.bias`, [t.intermediateSize]);
    add(`${l}.mlp.fc2.weight`, [t.hiddenSize, t.intermediateSize]);
    add(`${l}.mlp.fc2.bias`, [t.hiddenSize]);
  }
  add(`${v}.post_layernorm.weight`, [t.hiddenSize]);
  add(`${v}.post_layernorm.bias`, [t.hiddenSize]);
  // Siglip2VisionConfig.vision_use_head defaults to true (the tiny fixture has a head); LFM2-VL-450M says false.
  if (visionRaw.vision_use_head !== false) {
    const h = `${v}.head`;
    add(`${h}.probe`, [1, 1, t.hiddenSize]);
    add(`${h}.attention.in_proj_weight`, [3 * t.hiddenSize, t.hiddenSize]);
    add(`${h}.attention.in_proj_bias`, [3 * t.hiddenSize]);
    add(`${h}.attention.out_proj.weight`, [t.hiddenSize, t.hiddenSize]);
    add(`${h}.attention.out_proj.bias`, [t.hiddenSize]);
    add(`${h}.layernorm.weight`, [t.hiddenSize]);
    add(`${h}.layernorm.bias`, [t.hiddenSize]);
    add(`${h}.mlp.fc1.weight`, [t.intermediateSize, t.hiddenSize]);
    add(`${h}.mlp.fc1.bias`, [t.intermediateSize]);
    add(`${h}.mlp.fc2.weight`, [t.hiddenSize, t.intermediateSize]);
    add(`${h}.mlp.fc2.bias`, [t.hiddenSize]);
  }
  const p = vision.projector;
  const unshuffled = p.downsampleFactor ** 2 * t.hiddenSize;
  const m = "model.multi_modal_projector";
  if (p.useLayerNorm) for (const q of ["weight", "bias"]) add(`${m}.layer_norm.${q}`, [unshuffled]);
  add(`${m}.linear_1.weight`, [p.hiddenSize, unshuffled]);
  if (p.bias) add(`${m}.linear_1.bias`, [p.hiddenSize]);
  add(`${m}.linear_2.weight`, [p.outputSize, p.hiddenSize]);
  if (p.bias) add(`${m}.linear_2.bias`, [p.outputSize]);
  return [...tensors, ...lfm2Tensors("model.language_model.", config.text_config as Json, "BF16")];
}

/** LFM2-Audio (§4.1, §4.3, §4.5) under liquid-audio's module names, as lfm2-audio-tiny stores them. */
export function audioTensors(config: Json): TensorSpec[] {
  const lfm = parseTextConfig({ model_type: "lfm2", ...(config.lfm as Json) }, "lfm");
  const enc = nemoConformerConfig(config.encoder, "encoder");
  const C = config.codebooks as number;
  const depth = config.depthformer as { layers: number; dim: number };
  const D = lfm.hiddenSize;
  const d = enc.hiddenSize;
  const { tensors, add } = table("BF16");
  add("codebook_offsets", [C], { dtype: "I64", ints: Array.from({ length: C }, (_, i) => i * AUDIO_VOCAB) });
  add("audio_adapter.model.0.weight", [d]);
  add("audio_adapter.model.0.bias", [d]);
  add("audio_adapter.model.1.weight", [D, d]);
  add("audio_adapter.model.1.bias", [D]);
  add("audio_adapter.model.3.weight", [D, D]);
  add("audio_adapter.model.3.bias", [D]);
  add("audio_embedding.embedding.weight", [C * AUDIO_VOCAB, D]);
  add("audio_embedding.embedding_norm.weight", [D]);
  add("audio_embedding.to_logits.weight", [C * AUDIO_VOCAB, D]);
  add("audio_loss_weights", [C]);
  // FastConformer (NeMo names): dw_striding subsampling, one full conv then depthwise + pointwise per stage.
  const ch = enc.subsampling.channels;
  let freq = enc.melBins;
  const pre = "conformer.pre_encode";
  for (let stage = 0; stage < enc.subsampling.stages; stage++) {
    if (stage === 0) {
      add(`${pre}.conv.0.weight`, [ch, 1, 3, 3]);
      add(`${pre}.conv.0.bias`, [ch]);
    } else {
      add(`${pre}.conv.${3 * stage - 1}.weight`, [ch, 1, 3, 3]);
      add(`${pre}.conv.${3 * stage - 1}.bias`, [ch]);
      add(`${pre}.conv.${3 * stage}.weight`, [ch, ch, 1, 1]);
      add(`${pre}.conv.${3 * stage}.bias`, [ch]);
    }
    freq = Math.floor((freq + 2 - 3) / 2) + 1;
  }
  add(`${pre}.out.weight`, [d, ch * freq]);
  add(`${pre}.out.bias`, [d]);
  const dk = d / enc.heads;
  for (let i = 0; i < enc.layers; i++) {
    const l = `conformer.layers.${i}`;
    for (const p of ["weight", "bias", "running_mean", "running_var"]) add(`${l}.conv.batch_norm.${p}`, [d]);
    add(`${l}.conv.batch_norm.num_batches_tracked`, [], { dtype: "I64", ints: [0] });
    add(`${l}.conv.depthwise_conv.weight`, [d, 1, enc.convKernel]);
    add(`${l}.conv.depthwise_conv.bias`, [d]);
    add(`${l}.conv.pointwise_conv1.weight`, [2 * d, d, 1]);
    add(`${l}.conv.pointwise_conv1.bias`, [2 * d]);
    add(`${l}.conv.pointwise_conv2.weight`, [d, d, 1]);
    add(`${l}.conv.pointwise_conv2.bias`, [d]);
    for (const ff of ["feed_forward1", "feed_forward2"]) {
      add(`${l}.${ff}.linear1.weight`, [enc.feedForwardSize, d]);
      add(`${l}.${ff}.linear1.bias`, [enc.feedForwardSize]);
      add(`${l}.${ff}.linear2.weight`, [d, enc.feedForwardSize]);
      add(`${l}.${ff}.linear2.bias`, [d]);
    }
    for (const norm of ["norm_conv", "norm_feed_forward1", "norm_feed_forward2", "norm_out", "norm_self_att"]) for (const p of ["weight", "bias"]) add(`${l}.${norm}.${p}`, [d]);
    for (const proj of ["linear_k", "linear_out", "linear_q", "linear_v"]) {
      add(`${l}.self_attn.${proj}.weight`, [d, d]);
      add(`${l}.self_attn.${proj}.bias`, [d]);
    }
    add(`${l}.self_attn.linear_pos.weight`, [d, d]);
    add(`${l}.self_attn.pos_bias_u`, [enc.heads, dk]);
    add(`${l}.self_attn.pos_bias_v`, [enc.heads, dk]);
  }
  // Depthformer (§4.5): liquid-audio's MHA defaults, 32 heads and 8 KV heads; SwiGLU width int(2·4·dim/3) rounded up to 256.
  const dd = depth.dim;
  const headDim = dd / 32;
  const ffn = 256 * Math.ceil(Math.trunc((2 * 4 * dd) / 3) / 256);
  for (let i = 0; i < C; i++) {
    add(`depth_embeddings.${i}.embedding.weight`, [AUDIO_VOCAB, dd]);
    add(`depth_embeddings.${i}.embedding_norm.weight`, [dd]);
    add(`depth_embeddings.${i}.to_logits.weight`, [AUDIO_VOCAB, dd]);
  }
  add("depth_linear.weight", [C * dd, D]);
  add("depth_linear.bias", [C * dd]);
  for (let i = 0; i < depth.layers; i++) {
    const l = `depthformer.layers.${i}`;
    add(`${l}.feed_forward.w1.weight`, [ffn, dd]);
    add(`${l}.feed_forward.w2.weight`, [dd, ffn]);
    add(`${l}.feed_forward.w3.weight`, [ffn, dd]);
    add(`${l}.ffn_norm.weight`, [dd]);
    add(`${l}.operator.bounded_attention.k_layernorm.weight`, [headDim]);
    add(`${l}.operator.bounded_attention.q_layernorm.weight`, [headDim]);
    add(`${l}.operator.out_proj.weight`, [dd, dd]);
    add(`${l}.operator.qkv_proj.weight`, [dd + 2 * 8 * headDim, dd]);
    add(`${l}.operator_norm.weight`, [dd]);
  }
  return [...tensors, ...lfm2Tensors("lfm.", config.lfm as Json, "BF16")];
}

/** Mimi (§4.6) under transformers' MimiModel names, as mimi-tiny stores them (float32). */
export function mimiTensors(config: Json): TensorSpec[] {
  const c = config as {
    num_filters: number;
    upsampling_ratios: number[];
    hidden_size: number;
    kernel_size: number;
    last_kernel_size: number;
    residual_kernel_size: number;
    compress: number;
    num_hidden_layers: number;
    num_attention_heads: number;
    num_key_value_heads: number;
    head_dim: number;
    intermediate_size: number;
    codebook_size: number;
    codebook_dim: number;
    num_quantizers: number;
    num_semantic_quantizers: number;
    upsample_groups: number;
    vector_quantization_hidden_dimension: number;
  };
  const { tensors, add } = table("F32");
  const conv = (name: string, out: number, input: number, kernel: number) => {
    add(`${name}.conv.weight`, [out, input, kernel]);
    add(`${name}.conv.bias`, [out]);
  };
  const resBlock = (name: string, channels: number) => {
    const hidden = channels / c.compress;
    conv(`${name}.block.1`, hidden, channels, c.residual_kernel_size);
    conv(`${name}.block.3`, channels, hidden, 1);
  };
  const F = c.num_filters;
  const H = c.hidden_size;
  // Encoder: conv, then per stage (decoder ratios reversed) a residual block, ELU, strided conv (kernel 2·stride).
  conv("encoder.layers.0", F, 1, c.kernel_size);
  let channels = F;
  let index = 1;
  for (const ratio of [...c.upsampling_ratios].reverse()) {
    resBlock(`encoder.layers.${index}`, channels);
    conv(`encoder.layers.${index + 2}`, 2 * channels, channels, 2 * ratio);
    channels *= 2;
    index += 3;
  }
  conv(`encoder.layers.${index + 1}`, H, channels, c.last_kernel_size);
  // Decoder: conv, then per stage ELU, transposed conv (weight [in, out, kernel]), residual block.
  conv("decoder.layers.0", channels, H, c.kernel_size);
  index = 2;
  for (const ratio of c.upsampling_ratios) {
    add(`decoder.layers.${index}.conv.weight`, [channels, channels / 2, 2 * ratio]);
    add(`decoder.layers.${index}.conv.bias`, [channels / 2]);
    channels /= 2;
    resBlock(`decoder.layers.${index + 1}`, channels);
    index += 3;
  }
  conv(`decoder.layers.${index}`, 1, channels, c.last_kernel_size);
  for (const part of ["encoder_transformer", "decoder_transformer"]) {
    for (let i = 0; i < c.num_hidden_layers; i++) {
      const l = `${part}.layers.${i}`;
      for (const norm of ["input_layernorm", "post_attention_layernorm"]) for (const p of ["weight", "bias"]) add(`${l}.${norm}.${p}`, [H]);
      add(`${l}.mlp.fc1.weight`, [c.intermediate_size, H]);
      add(`${l}.mlp.fc2.weight`, [H, c.intermediate_size]);
      add(`${l}.mlp_layer_scale.scale`, [H]);
      add(`${l}.self_attn_layer_scale.scale`, [H]);
      add(`${l}.self_attn.q_proj.weight`, [c.num_attention_heads * c.head_dim, H]);
      add(`${l}.self_attn.k_proj.weight`, [c.num_key_value_heads * c.head_dim, H]);
      add(`${l}.self_attn.v_proj.weight`, [c.num_key_value_heads * c.head_dim, H]);
      add(`${l}.self_attn.o_proj.weight`, [H, c.num_attention_heads * c.head_dim]);
    }
  }
  add("downsample.conv.weight", [H, H, 4]);
  add("upsample.conv.weight", [H, H / c.upsample_groups, 4]);
  const vq = c.vector_quantization_hidden_dimension;
  const rvq = (name: string, levels: number) => {
    add(`quantizer.${name}.input_proj.weight`, [vq, H, 1]);
    add(`quantizer.${name}.output_proj.weight`, [H, vq, 1]);
    for (let l = 0; l < levels; l++) {
      const book = `quantizer.${name}.layers.${l}.codebook`;
      add(`${book}.cluster_usage`, [c.codebook_size]);
      add(`${book}.embed_sum`, [c.codebook_size, c.codebook_dim]);
      add(`${book}.initialized`, [1], { constant: 1 });
    }
  };
  rvq("semantic_residual_vector_quantizer", c.num_semantic_quantizers);
  rvq("acoustic_residual_vector_quantizer", c.num_quantizers - c.num_semantic_quantizers);
  return tensors;
}

// ---------------------------------------------------------------------------------------------------
// Checking a table against its tiny fixture, and writing a checkpoint.

export function readHeader(path: string): Record<string, { dtype: string; shape: number[] }> {
  const fd = openSync(path, "r");
  try {
    const length = Buffer.alloc(8);
    readSync(fd, length, 0, 8, 0);
    const header = Buffer.alloc(Number(length.readBigUInt64LE()));
    readSync(fd, header, 0, header.length, 8);
    const parsed = JSON.parse(header.toString("utf8")) as Record<string, { dtype: string; shape: number[] }>;
    delete parsed.__metadata__;
    return parsed;
  } finally {
    closeSync(fd);
  }
}

/**
 * Throws unless `tensorsOf` applied to the fixture's own config.json gives exactly the fixture's
 * safetensors header: the table the released-size checkpoint is written from is then the fixture's
 * layout, scaled by the config.
 */
export function checkAgainstFixture(fixtureDir: string, tensorsOf: (config: Json) => TensorSpec[]): void {
  const config = JSON.parse(readFileSync(join(fixtureDir, "config.json"), "utf8")) as Json;
  const expected = readHeader(join(fixtureDir, "model.safetensors"));
  const got = new Map(tensorsOf(config).map((t) => [t.name, t]));
  const problems: string[] = [];
  for (const [name, info] of Object.entries(expected)) {
    const t = got.get(name);
    if (!t) problems.push(`missing ${name}`);
    else if (t.dtype !== info.dtype || t.shape.join() !== info.shape.join()) problems.push(`${name}: table ${t.dtype} [${t.shape}], fixture ${info.dtype} [${info.shape}]`);
  }
  for (const name of got.keys()) if (!(name in expected)) problems.push(`extra ${name}`);
  if (problems.length > 0) throw new Error(`tensor table does not reproduce ${fixtureDir}: ${problems.slice(0, 5).join("; ")}${problems.length > 5 ? ` (+${problems.length - 5})` : ""}`);
}

/** xorshift values around `center` ± 0.04 as bf16 bit patterns (synthetic.ts's pool). */
function randomPool(values: number, seed: number, center: number): Uint16Array {
  const pool = new Uint16Array(values);
  const view = new DataView(new ArrayBuffer(4));
  let state = seed >>> 0 || 1;
  for (let i = 0; i < values; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    view.setFloat32(0, center + ((state >>> 0) / 4294967296 - 0.5) * 0.08);
    pool[i] = view.getUint16(0);
  }
  return pool;
}

const bf16ToF32Array = (bits: Uint16Array) => {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
};

/** Streams `tensors` into `path` as safetensors; ≥2-D tensors from the weight pool, 1-D (norms, biases, scales) near 1. */
function writeTensors(path: string, tensors: readonly TensorSpec[]): void {
  const bytesPer = { BF16: 2, F32: 4, I64: 8 } as const;
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * bytesPer[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let headerText = JSON.stringify(header);
  headerText += " ".repeat((8 - ((headerText.length + 8) % 8)) % 8);
  const fd = openSync(path, "w");
  try {
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(headerText.length));
    writeSync(fd, length);
    writeSync(fd, Buffer.from(headerText));
    const pools = { weights: randomPool(1 << 24, 12345, 0), norms: randomPool(1 << 16, 777, 1) };
    const floatPools = { weights: bf16ToF32Array(pools.weights.subarray(0, 1 << 22)), norms: bf16ToF32Array(pools.norms) };
    let cursor = 0;
    for (const t of tensors) {
      const count = t.shape.reduce((a, b) => a * b, 1);
      if (t.dtype === "I64") {
        writeSync(fd, BigInt64Array.from({ length: count }, (_, i) => BigInt(t.ints?.[i] ?? 0)));
        continue;
      }
      if (t.constant !== undefined) {
        writeSync(fd, t.dtype === "F32" ? new Float32Array(count).fill(t.constant) : new Uint16Array(count).fill(bf16Bits(t.constant)));
        continue;
      }
      const kind = t.shape.length <= 1 ? "norms" : "weights";
      const pool = t.dtype === "F32" ? floatPools[kind] : pools[kind];
      for (let done = 0; done < count; ) {
        const start = cursor % (pool.length - 1);
        const n = Math.min(count - done, pool.length - start);
        writeSync(fd, pool.subarray(start, start + n));
        done += n;
        cursor += n * 7 + 1;
      }
    }
  } finally {
    closeSync(fd);
  }
}

function bf16Bits(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  return view.getUint16(0);
}

export interface CheckpointRequest {
  readonly dir: string;
  /** The tiny fixture folder whose layout the table must reproduce. */
  readonly fixture: string;
  readonly config: Json;
  readonly tensorsOf: (config: Json) => TensorSpec[];
  /** Other files of the folder (tokenizer, processor settings), by name. */
  readonly files?: Readonly<Record<string, string | Buffer>>;
}

/**
 * Writes the folder unless it already holds this exact checkpoint (config.json is written last and
 * `bench-shape.json` records a digest of the table and files); returns its path.
 */
export function writeCheckpoint(request: CheckpointRequest): string {
  const { dir, config, tensorsOf } = request;
  const tensors = tensorsOf(config);
  const digest = createHash("sha256")
    .update(JSON.stringify({ config, tensors, files: Object.entries(request.files ?? {}).map(([n, c]) => [n, createHash("sha256").update(c).digest("hex")]) }))
    .digest("hex");
  const marker = join(dir, "bench-shape.json");
  if (existsSync(join(dir, "config.json")) && existsSync(marker) && (JSON.parse(readFileSync(marker, "utf8")) as { digest: string }).digest === digest) return dir;
  checkAgainstFixture(request.fixture, tensorsOf);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`writing ${dir} (${(tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0) / 1e6).toFixed(1)} M parameters)\n`);
  writeTensors(join(dir, "model.safetensors"), tensors);
  for (const [name, contents] of Object.entries(request.files ?? {})) writeFileSync(join(dir, name), contents);
  writeFileSync(join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`);
  writeFileSync(marker, `${JSON.stringify({ digest, fixture: request.fixture, parameters: tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0) }, null, 2)}\n`);
  return dir;
}

/** Parameters of a table (all tensors). */
export function parameterCount(tensors: readonly TensorSpec[]): number {
  return tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
}

// ---------------------------------------------------------------------------------------------------
// Tokenizer and the folders the benchmarks use.

/**
 * The fixtures' tokenizer (LFM2's special tokens and chat template) with its vocabulary filled up to
 * `size` entries: random weights pick any of the model's 65,536 ids, and every one must decode. The
 * extra entries are pairs of byte symbols no merge produces (text encodes as with the fixture's).
 */
export function syntheticTokenizerFiles(fixtureDir: string, size: number): Record<string, string> {
  const tokenizer = JSON.parse(readFileSync(join(fixtureDir, "tokenizer.json"), "utf8")) as { model: { vocab: Record<string, number> } };
  const vocab = tokenizer.model.vocab;
  const taken = new Set(Object.keys(vocab));
  let next = Math.max(...Object.values(vocab)) + 1;
  const bytes = byteLevelAlphabet();
  for (let i = 0; next < size; i++) {
    const piece = i < 65536 ? bytes[i % 256] + bytes[Math.floor(i / 256) % 256] : bytes[i % 256] + bytes[Math.floor(i / 256) % 256] + bytes[Math.floor(i / 65536) % 256];
    if (taken.has(piece)) continue;
    taken.add(piece);
    vocab[piece] = next++;
  }
  const files: Record<string, string> = { "tokenizer.json": JSON.stringify(tokenizer) };
  for (const name of ["tokenizer_config.json", "chat_template.jinja", "generation_config.json"]) {
    if (existsSync(join(fixtureDir, name))) files[name] = readFileSync(join(fixtureDir, name), "utf8");
  }
  return files;
}

/** The `<image>` id of the fixtures' tokenizer. */
function imageTokenIdOf(fixtureDir: string): number {
  const tokenizer = JSON.parse(readFileSync(join(fixtureDir, "tokenizer.json"), "utf8")) as { added_tokens: { id: number; content: string }[] };
  const found = tokenizer.added_tokens.find((t) => t.content === "<image>");
  if (!found) throw new Error(`${fixtureDir}/tokenizer.json has no <image> token`);
  return found.id;
}

export function writeVl450m(work: string, fixtures: string): string {
  const fixture = join(fixtures, "lfm2-vl-tiny");
  return writeCheckpoint({
    dir: join(work, "lfm2-vl-450m"),
    fixture,
    config: vl450mConfig(imageTokenIdOf(fixture)),
    tensorsOf: vlTensors,
    files: { ...syntheticTokenizerFiles(fixture, LFM2_VOCAB), "processor_config.json": `${JSON.stringify(vl450mProcessorConfig(), null, 2)}\n` },
  });
}

export function writeAudio15b(work: string, fixtures: string): string {
  const fixture = join(fixtures, "lfm2-audio-tiny");
  return writeCheckpoint({ dir: join(work, "lfm2-audio-1.5b"), fixture, config: audio15bConfig(), tensorsOf: audioTensors, files: syntheticTokenizerFiles(fixture, LFM2_VOCAB) });
}

export function writeMimi(work: string, fixtures: string): string {
  return writeCheckpoint({ dir: join(work, "mimi"), fixture: join(fixtures, "mimi-tiny"), config: mimiConfig(), tensorsOf: mimiTensors });
}

