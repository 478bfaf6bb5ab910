export { detectArchitecture, type Architecture } from "./architecture.js";
export type { ChatEvent, ChatModel, ChatOptions } from "./chat-model.js";
export { loadModel, type ModelOptions } from "./load.js";
export { audioInputSchema, imageInputSchema, messagePartSchema, messageSchema, type AudioInput, type ImageInput, type Message, type MessagePart } from "./messages.js";
export { TextChat } from "./text-chat.js";
export { VisionLanguageChat, type VisionLanguageOptions } from "./lfm2-vl.js";
