export { DEFAULT_MAX_PIXELS, decodeImage, type DecodeOptions, type RgbImage } from "./image.js";
export { DEFAULT_IMAGE_PROCESSOR_SETTINGS, parseImageProcessorSettings, readImageProcessorSettings, type ImageProcessorSettings } from "./settings.js";
export { imageLayout, type ImageLayout, type Size, type TileLayout } from "./layout.js";
export { preprocessImage, preprocessImages, type PixelBatch, type PreprocessedImages } from "./preprocess.js";
export { IMAGE_END_TOKEN, IMAGE_START_TOKEN, IMAGE_THUMBNAIL_TOKEN, IMAGE_TOKEN, expandImagePlaceholders, imageTokenText, tileMarker } from "./prompt.js";
export { VisionEncoder, visionLoadOptionsSchema, type ImageFeatures, type VisionInput, type VisionLoadOptions } from "./vision-encoder.js";
export { parseVisionConfig, readVisionConfig, type VisionConfig } from "./vision-config.js";
