export { TextTokenizer, type ChatMessage, type ChatTemplateOptions, type ContentPart } from "./tokenizer.js";
export { StreamDecoder } from "./stream-decoder.js";
export { ggufTokenizerMetadata, tokenizerFilesFromGguf } from "./gguf.js";
