/**
 * The operator layer: each neural-network building block defined once, as ONNX nodes, shared by
 * every model file. Activations are float32; sequences are [batch, seq, features].
 */
export { activation, elu, gelu, silu } from "./activations.js";
export {
  attentionMasks,
  bidirectionalAttention,
  cachedAttention,
  keyPaddingBias,
  splitFusedQkv,
  type AttentionMasks,
  type AttentionSpec,
  type HeadLayout,
  type KvCacheInputs,
} from "./attention.js";
export { causalDepthwiseConv, conv, convTranspose, foldBatchNorm, type BatchNormSpec, type CausalConvSpec, type ConvSpec, type ConvTransposeSpec } from "./convolution.js";
export { sparseExperts, type ExpertSpec } from "./experts.js";
export { mlp, swiglu } from "./feed-forward.js";
export { floatWeight, linear, quantizedWeight, quantizeTogether, type QuantizedSlice } from "./linear.js";
export { layerNorm, perHeadRmsNorm, rmsNorm } from "./norms.js";
export { relativePositionAttention, type RelativeAttentionSpec } from "./relative-attention.js";
export { residualDequantize, residualQuantize } from "./quantizers.js";
export { rope, rotary, rotaryTables, type RotarySpec } from "./rotary.js";
export { pixelUnshuffle } from "./spatial.js";
export { slidingWindowAttention, slidingWindowMask, streamRotary, type SlidingWindowSpec, type WindowCache } from "./streaming-attention.js";
export { causalContextLength, streamingConv, streamingConvTranspose, type StreamingConvSpec, type StreamingConvTransposeSpec } from "./streaming-conv.js";
