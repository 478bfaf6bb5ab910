import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { z } from "zod";

/** The settings of Lfm2VlImageProcessorFast that change what the model sees. */
export interface ImageProcessorSettings {
  readonly encoderPatchSize: number;
  readonly downsampleFactor: number;
  readonly minImageTokens: number;
  readonly maxImageTokens: number;
  readonly maxPixelsTolerance: number;
  readonly doImageSplitting: boolean;
  readonly minTiles: number;
  readonly maxTiles: number;
  readonly tileSize: number;
  readonly useThumbnail: boolean;
  readonly doRescale: boolean;
  readonly rescaleFactor: number;
  readonly doNormalize: boolean;
  readonly imageMean: readonly [number, number, number];
  readonly imageStd: readonly [number, number, number];
  /** Whether the prompt wraps each image in `<|image_start|>`…`<|image_end|>` with tile markers. */
  readonly useImageSpecialTokens: boolean;
}

const positiveInt = z.number().int().positive();
const perChannel = z
  .union([z.number(), z.array(z.number()).length(3)])
  .transform((v): [number, number, number] => (typeof v === "number" ? [v, v, v] : [v[0], v[1], v[2]]));

/** Keys as transformers writes them; absent keys take the defaults of Lfm2VlImageProcessorFast. */
const rawSettingsSchema = z
  .object({
    encoder_patch_size: positiveInt.default(16),
    downsample_factor: positiveInt.default(2),
    min_image_tokens: positiveInt.default(64),
    max_image_tokens: positiveInt.default(256),
    max_pixels_tolerance: z.number().positive().default(2.0),
    do_image_splitting: z.boolean().default(true),
    min_tiles: positiveInt.default(2),
    max_tiles: positiveInt.default(10),
    tile_size: positiveInt.default(512),
    use_thumbnail: z.boolean().default(true),
    // 2 is PIL's BILINEAR, which the fast processor runs as an antialiased bilinear resize.
    resample: z.literal(2, { error: "only resample 2 (bilinear) is supported" }).default(2),
    do_rescale: z.boolean().default(true),
    rescale_factor: z.number().positive().default(1 / 255),
    do_normalize: z.boolean().default(true),
    image_mean: perChannel.default([0.5, 0.5, 0.5]),
    image_std: perChannel.default([0.5, 0.5, 0.5]),
    // The patch lists of tiles and thumbnail differ in length; without padding they cannot be batched.
    do_pad: z.literal(true, { error: "do_pad false is not supported" }).default(true),
    use_image_special_tokens: z.boolean().default(true),
  })
  .passthrough()
  .refine((s) => !s.do_image_splitting || s.min_tiles <= s.max_tiles, { message: "min_tiles must not exceed max_tiles" })
  .refine((s) => s.min_image_tokens <= s.max_image_tokens, { message: "min_image_tokens must not exceed max_image_tokens" })
  .refine((s) => s.image_std.every((x) => x !== 0), { message: "image_std must not contain 0" });

/**
 * Reads the settings from a processor_config.json (nested under `image_processor`), a
 * preprocessor_config.json (flat), or an object of either layout.
 */
export function parseImageProcessorSettings(json: unknown, where?: string): ImageProcessorSettings {
  const flat = isRecord(json) && isRecord(json.image_processor) ? json.image_processor : json;
  const parsed = rawSettingsSchema.safeParse(flat ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue.path.length > 0 ? `${issue.path.join(".")}: ` : "";
    throw new LfmkitError(`invalid image processor settings (${key}${issue.message})`, where);
  }
  const s = parsed.data;
  return {
    encoderPatchSize: s.encoder_patch_size,
    downsampleFactor: s.downsample_factor,
    minImageTokens: s.min_image_tokens,
    maxImageTokens: s.max_image_tokens,
    maxPixelsTolerance: s.max_pixels_tolerance,
    doImageSplitting: s.do_image_splitting,
    minTiles: s.min_tiles,
    maxTiles: s.max_tiles,
    tileSize: s.tile_size,
    useThumbnail: s.use_thumbnail,
    doRescale: s.do_rescale,
    rescaleFactor: s.rescale_factor,
    doNormalize: s.do_normalize,
    imageMean: s.image_mean,
    imageStd: s.image_std,
    useImageSpecialTokens: s.use_image_special_tokens,
  };
}

/** The defaults of Lfm2VlImageProcessorFast (the released LFM2-VL settings, thumbnail on). */
export const DEFAULT_IMAGE_PROCESSOR_SETTINGS: ImageProcessorSettings = parseImageProcessorSettings({});

/**
 * The settings of a model folder: processor_config.json when it nests `image_processor`, else
 * preprocessor_config.json, else the defaults. A path to a .json file is read as is.
 */
export function readImageProcessorSettings(path: string): ImageProcessorSettings {
  if (path.endsWith(".json")) return parseImageProcessorSettings(readJsonFile(path), path);
  const processorFile = join(path, "processor_config.json");
  if (existsSync(processorFile)) {
    const json = readJsonFile(processorFile);
    if (isRecord(json) && isRecord(json.image_processor)) return parseImageProcessorSettings(json, processorFile);
  }
  const preprocessorFile = join(path, "preprocessor_config.json");
  if (existsSync(preprocessorFile)) return parseImageProcessorSettings(readJsonFile(preprocessorFile), preprocessorFile);
  return DEFAULT_IMAGE_PROCESSOR_SETTINGS;
}

function readJsonFile(file: string): unknown {
  if (!existsSync(file)) throw new LfmkitError("file does not exist", file);
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (error) {
    throw new LfmkitError(`not valid JSON (${(error as Error).message.split("\n")[0]})`, file);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
