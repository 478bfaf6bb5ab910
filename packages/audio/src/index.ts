export { DEFAULT_MAX_DURATION_SECONDS, WavReader, readWav, type SampleEncoding, type WavAudio, type WavInfo, type WavReadOptions } from "./wav.js";
export { encodeWav, writeWav, type WavWriteEncoding } from "./wav-write.js";
export { resample, type ResampleOptions } from "./resample.js";
export { loadAudio } from "./load.js";
export { attentionMask, logMel, type LogMelFeatures, type LogMelOptions } from "./mel.js";
export { logMelSettingsSchema, nemoLogMelSettings, parakeetLogMelSettings, readLogMelSettings, type LogMelSettings } from "./mel-settings.js";
export { ConformerEncoder, conformerLoadOptionsSchema, type ConformerLoadOptions, type EncodedAudio } from "./conformer-encoder.js";
export { nemoConformerConfig, parakeetConformerConfig, readConformerConfig, type ConformerConfig } from "./conformer-config.js";
