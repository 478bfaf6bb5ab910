import { weightFormatSchema } from "@lfmkit/core";
import { DEFAULT_MAX_TOKENS } from "@lfmkit/text";
import { z } from "zod";

export const count = z.coerce.number().int().positive();

export const generateArgsSchema = z
  .object({
    model: z.string().min(1),
    prompt: z.string().optional(),
    raw: z.string().optional(),
    promptIds: z
      .string()
      .regex(/^\s*\d+(\s*,\s*\d+)*\s*$/, "must be comma-separated token ids, e.g. 1,2,3")
      .transform((s) => s.split(",").map((x) => Number(x.trim())))
      .optional(),
    system: z.string().optional(),
    image: z.array(z.string().min(1)).default([]),
    audio: z.array(z.string().min(1)).default([]),
    mode: z.enum(["interleaved", "sequential"]).optional(),
    outputAudio: z.string().min(1).optional(),
    codec: z.string().min(1).optional(),
    audioTemperature: z.coerce.number().min(0).optional(),
    audioTopK: z.coerce.number().int().min(0).optional(),
    maxImageTokens: count.optional(),
    minImageTokens: count.optional(),
    maxTiles: count.optional(),
    tiling: z.boolean().default(true),
    maxTokens: count.default(DEFAULT_MAX_TOKENS),
    ignoreEos: z.boolean().default(false),
    temperature: z.coerce.number().min(0).optional(),
    topK: z.coerce.number().int().min(0).optional(),
    topP: z.coerce.number().gt(0).max(1).optional(),
    minP: z.coerce.number().min(0).max(1).optional(),
    repetitionPenalty: z.coerce.number().gt(0).optional(),
    seed: z.coerce.number().int().optional(),
    weightFormat: weightFormatSchema.default("f32"),
    threads: count.optional(),
    cacheDir: z.string().optional(),
    json: z.boolean().default(false),
    verbose: z.boolean().default(false),
  })
  .refine((o) => [o.prompt ?? (o.audio.length > 0 ? "" : undefined), o.raw, o.promptIds].filter((x) => x !== undefined).length === 1, {
    message: "give exactly one of --prompt (or --audio), --raw or --prompt-ids",
  })
  .refine((o) => o.system === undefined || o.prompt !== undefined || o.audio.length > 0, { message: "--system applies only to --prompt or --audio" })
  .refine((o) => o.image.length === 0 || o.prompt !== undefined, { message: "--image applies only to --prompt" })
  .refine((o) => o.raw === undefined || o.audio.length === 0, { message: "--audio does not go with --raw" });

export type GenerateArgs = z.output<typeof generateArgsSchema>;

export const audioArgsSchema = z.object({
  model: z.string().min(1),
  weightFormat: weightFormatSchema.default("f32"),
  threads: count.optional(),
  cacheDir: z.string().optional(),
  json: z.boolean().default(false),
  verbose: z.boolean().default(false),
});
