/**
 * Generation policy every front end shares (CLI, server, batch): the sampling settings a request
 * gets when it leaves some out, and how a chat turn becomes prompt ids.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError, type SamplingOptions } from "@lfmkit/core";
import type { ChatMessage, TextTokenizer } from "@lfmkit/tokenizer";
import { z } from "zod";

/** Most tokens a generation produces when the request does not say. */
export const DEFAULT_MAX_TOKENS = 256;

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

/** The sampling settings a request names; the rest come from `samplingFor`. */
export type RequestedSampling = Partial<Record<"temperature" | "topK" | "topP" | "minP" | "repetitionPenalty" | "seed", number>>;

/**
 * Sampling settings: the request's first, then the checkpoint's generation_config.json, then the
 * model card's recommendation. Temperature 0 is plain greedy decoding: the sampling-only defaults
 * (min-p, repetition penalty) are not applied then, though settings the request names still are.
 */
export function samplingFor(modelPath: string, requested: RequestedSampling = {}): SamplingOptions {
  const file = generationConfig(modelPath);
  const temperature = requested.temperature ?? file.temperature ?? CARD_DEFAULTS.temperature;
  const sampling = temperature > 0;
  return {
    temperature,
    topK: requested.topK ?? (sampling ? file.top_k : undefined),
    topP: requested.topP ?? (sampling ? file.top_p : undefined),
    minP: requested.minP ?? (sampling ? (file.min_p ?? CARD_DEFAULTS.minP) : undefined),
    repetitionPenalty: requested.repetitionPenalty ?? (sampling ? (file.repetition_penalty ?? CARD_DEFAULTS.repetitionPenalty) : undefined),
    seed: requested.seed,
  };
}

/** generation_config.json of a model folder; empty for a GGUF file or a folder without one. */
function generationConfig(modelPath: string): z.output<typeof generationConfigSchema> {
  const path = join(modelPath, "generation_config.json");
  if (!existsSync(path)) return {};
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    throw new LfmkitError(`not valid JSON (${(error as Error).message})`, path);
  }
  const parsed = generationConfigSchema.safeParse(json);
  if (!parsed.success) throw new LfmkitError(`${parsed.error.issues[0].path.join(".")}: ${parsed.error.issues[0].message}`, path);
  return parsed.data;
}

/** The prompt ids of a chat, rendered by the model's chat template with the assistant turn opened. */
export function chatPromptIds(tokenizer: TextTokenizer, messages: readonly ChatMessage[], tools?: readonly unknown[]): number[] {
  return tokenizer.encode(tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true, tools: tools ? [...tools] : undefined }));
}
