import { detectArchitecture } from "./architecture.js";
import { AudioChat, type AudioChatOptions } from "./audio-chat.js";
import type { ChatModel } from "./chat-model.js";
import { VisionLanguageChat, type VisionLanguageOptions } from "./lfm2-vl.js";
import { TextChat } from "./text-chat.js";

export type ModelOptions = VisionLanguageOptions & AudioChatOptions;

/** Loads the model at `path` (a Hugging Face folder or a GGUF file) behind the chat interface, whatever its architecture. */
export async function loadModel(path: string, options: ModelOptions = {}): Promise<ChatModel> {
  const architecture = detectArchitecture(path);
  switch (architecture) {
    case "text":
      return TextChat.load(path, options);
    case "vision-language":
      return VisionLanguageChat.load(path, options);
    case "audio":
      return AudioChat.load(path, options);
  }
}
