import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";

const count = z.coerce.number().int().positive();

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
    maxTokens: count.default(256),
    temperature: z.coerce.number().min(0).optional(),
    topK: z.coerce.number().int().min(0).optional(),
    topP: z.coerce.number().gt(0).max(1).optional(),
    minP: z.coerce.number().min(0).max(1).optional(),
    repetitionPenalty: z.coerce.number().gt(0).optional(),
    seed: z.coerce.number().int().optional(),
    dtype: z.enum(["f32", "q8", "q4"]).default("f32"),
    threads: count.optional(),
    cacheDir: z.string().optional(),
    json: z.boolean().default(false),
    verbose: z.boolean().default(false),
  })
  .refine((o) => [o.prompt, o.raw, o.promptIds].filter((x) => x !== undefined).length === 1, {
    message: "give exactly one of --prompt, --raw or --prompt-ids",
  })
  .refine((o) => o.system === undefined || o.prompt !== undefined, { message: "--system applies only to --prompt" });

export type GenerateArgs = z.output<typeof generateArgsSchema>;

const generationConfigSchema = z
  .object({
    temperature: z.number().optional(),
    top_k: z.number().optional(),
    top_p: z.number().optional(),
    min_p: z.number().optional(),
    repetition_penalty: z.number().optional(),
  })
  .passthrough();

/** LFM2 model cards' recommended sampling, used where generation_config.json is silent. */
const CARD_DEFAULTS = { temperature: 0.3, minP: 0.15, repetitionPenalty: 1.05 };

/**
 * Sampling settings: flags first, then the checkpoint's generation_config.json, then the model
 * card's recommendation. `--temperature 0` is plain greedy decoding: the sampling-only defaults
 * (min-p, repetition penalty) are not applied then, though explicit flags still are.
 */
export function samplingFor(args: GenerateArgs) {
  const path = join(args.model, "generation_config.json");
  const fromFile = existsSync(path) ? generationConfigSchema.safeParse(JSON.parse(readFileSync(path, "utf8"))) : undefined;
  const file = fromFile?.success ? fromFile.data : {};
  const temperature = args.temperature ?? file.temperature ?? CARD_DEFAULTS.temperature;
  const sampling = temperature > 0;
  return {
    temperature,
    topK: args.topK ?? (sampling ? file.top_k : undefined),
    topP: args.topP ?? (sampling ? file.top_p : undefined),
    minP: args.minP ?? (sampling ? (file.min_p ?? CARD_DEFAULTS.minP) : undefined),
    repetitionPenalty: args.repetitionPenalty ?? (sampling ? (file.repetition_penalty ?? CARD_DEFAULTS.repetitionPenalty) : undefined),
    seed: args.seed,
  };
}
