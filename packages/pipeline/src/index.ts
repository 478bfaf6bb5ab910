export { detectArchitecture, type Architecture } from "./architecture.js";
export type { ChatEvent, ChatModel, ChatOptions } from "./chat-model.js";
export { loadModel, type ModelOptions } from "./load.js";
export { audioInputSchema, imageInputSchema, messagePartSchema, messageSchema, toolCallSchema, type AudioInput, type ImageInput, type Message, type MessagePart } from "./messages.js";
export { TextChat } from "./text-chat.js";
export { VisionLanguageChat, type VisionLanguageOptions } from "./lfm2-vl.js";
export { TOOL_CALL_END, TOOL_CALL_START, ToolCallSplitter, formatToolCalls, parseToolCalls, type ToolCall } from "./tool-calls.js";
export { DEFAULT_PREFIX_CACHE_BYTES, type ChatModelOptions } from "./chat-model.js";
