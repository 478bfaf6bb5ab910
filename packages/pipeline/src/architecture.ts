/** Which model a path holds, from its files: the GGUF extension or config.json's model_type / architectures. */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";

export type Architecture = "text" | "vision-language" | "audio";

const TEXT_TYPES = ["lfm2", "lfm2_moe"];
const VISION_LANGUAGE_TYPES = ["lfm2_vl", "lfm2-vl"];
const AUDIO_ARCHITECTURES = ["LFM2AudioModel"];

export function detectArchitecture(path: string): Architecture {
  if (!existsSync(path)) throw new LfmkitError("no such file or folder", path);
  if (!statSync(path).isDirectory()) {
    if (path.toLowerCase().endsWith(".gguf")) return "text";
    throw new LfmkitError("not a model folder or a .gguf file", path);
  }
  const configPath = join(path, "config.json");
  if (!existsSync(configPath)) throw new LfmkitError("config.json not found", path);
  let config: { model_type?: unknown; architectures?: unknown };
  try {
    config = JSON.parse(readFileSync(configPath, "utf8"));
  } catch (error) {
    throw new LfmkitError(`not valid JSON (${(error as Error).message})`, configPath);
  }
  const modelType = typeof config.model_type === "string" ? config.model_type : undefined;
  const architectures = Array.isArray(config.architectures) ? config.architectures.map(String) : [];
  if (modelType && TEXT_TYPES.includes(modelType)) return "text";
  if (modelType && VISION_LANGUAGE_TYPES.includes(modelType)) return "vision-language";
  if (architectures.some((a) => AUDIO_ARCHITECTURES.includes(a))) return "audio";
  const named = modelType ? `model_type "${modelType}"` : `architectures ${JSON.stringify(architectures)}`;
  throw new LfmkitError(
    `unknown ${named} (lfmkit runs ${[...TEXT_TYPES, ...VISION_LANGUAGE_TYPES].join(", ")} and ${AUDIO_ARCHITECTURES.join(", ")})`,
    configPath,
  );
}
