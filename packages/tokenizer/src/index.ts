export { TextTokenizer, type ChatMessage, type ChatTemplateOptions, type ContentPart } from "./tokenizer.js";
export { StreamDecoder } from "./stream-decoder.js";
export { byteLevelAlphabet } from "./byte-level.js";
export { folderVocabulary, ggufTokenizerEntries, tokenizerFilesFromGguf, type GgufVocabulary } from "./gguf.js";
