export { effectiveFfnWidth, parseTextConfig, readTextConfig, type LayerType, type Lfm2Config, type MoeConfig, type TextCheckpointLayout } from "./config.js";
export { TextModel, loadOptionsSchema, type ForwardResult, type LoadOptions } from "./model.js";
export { DecoderState, type StateMark } from "./state.js";
export { DEFAULT_MAX_TOKENS, chatPromptIds, samplingFor, type RequestedSampling } from "./policy.js";
export { generate, type EmbeddedPrompt, type FinishReason, type GenerateOptions, type GenerationEvent, type PromptEnd, type Timings, type Usage } from "./generate.js";
export { openTextCheckpoint, type TextCheckpoint } from "./checkpoint.js";
export { exportGguf } from "./gguf-export.js";
