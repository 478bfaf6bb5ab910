/** What every model part's loader is told: how to store and multiply its weights, threads, where to cache. */
import { z } from "zod";
import { weightFormatSchema, type LinearPrecision } from "./weights.js";

export const loadOptionsSchema = z.object({
  weightFormat: weightFormatSchema.default("f32"),
  /** How q8/q4 products are computed: "int8" rounds activations to int8 blocks (fast), "exact" multiplies by the stored blocks in float32. */
  quantizedProducts: z.enum(["int8", "exact"]).default("int8"),
  /** ONNX Runtime intra-op threads (default: all cores). */
  threads: z.number().int().positive().optional(),
  /** Where built graphs are cached (default `$LFMKIT_CACHE_DIR` or `~/.cache/lfmkit`). */
  cacheDir: z.string().optional(),
});

/** The linear layers' precision the options ask for: `MatMulNBits` accuracy level 4 (int8 activations) or 0 (exact). */
export function linearPrecision(options: Pick<z.output<typeof loadOptionsSchema>, "weightFormat" | "quantizedProducts">): LinearPrecision {
  return { format: options.weightFormat, accuracyLevel: options.quantizedProducts === "exact" ? 0 : 4 };
}
