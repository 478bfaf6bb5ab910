import { z } from "zod";

export const samplingSchema = z.object({
  /** 0 means greedy (argmax). */
  temperature: z.number().min(0).default(1),
  topK: z.number().int().min(0).default(0),
  topP: z.number().gt(0).max(1).default(1),
  minP: z.number().min(0).max(1).default(0),
  repetitionPenalty: z.number().gt(0).default(1),
  seed: z.number().int().optional(),
});

export type SamplingOptions = z.input<typeof samplingSchema>;

/** Candidates whose logit is this far below the best carry less than e^-30 of the mass: dropped before sorting. */
const NEGLIGIBLE_LOGIT_GAP = 30;

/**
 * Picks the next token from logits, in the reference order: repetition penalty, then temperature,
 * top-k, top-p and min-p. Seeded, so a run with the same seed repeats exactly.
 */
export class Sampler {
  private readonly options: z.output<typeof samplingSchema>;
  private readonly random: () => number;

  constructor(options: SamplingOptions = {}) {
    this.options = samplingSchema.parse(options);
    this.random = mulberry32(this.options.seed ?? Math.floor(Math.random() * 2 ** 32));
  }

  /** `logits` is modified in place; `seen` holds the ids of the prompt and of what was generated. */
  sample(logits: Float32Array, seen: ReadonlySet<number>): number {
    const { temperature, topK, topP, minP, repetitionPenalty } = this.options;
    if (repetitionPenalty !== 1) {
      for (const id of seen) {
        const x = logits[id];
        logits[id] = x > 0 ? x / repetitionPenalty : x * repetitionPenalty;
      }
    }
    if (temperature === 0) return argmax(logits);

    let best = -Infinity;
    for (let i = 0; i < logits.length; i++) if (logits[i] > best) best = logits[i];
    const floor = best - NEGLIGIBLE_LOGIT_GAP * temperature;
    let candidates: number[] = [];
    for (let i = 0; i < logits.length; i++) if (logits[i] >= floor) candidates.push(i);
    candidates.sort((a, b) => logits[b] - logits[a]);
    if (topK > 0) candidates = candidates.slice(0, topK);

    let probs = candidates.map((id) => Math.exp((logits[id] - best) / temperature));
    let total = probs.reduce((a, b) => a + b, 0);
    if (topP < 1) {
      let cumulative = 0;
      let keep = 0;
      while (keep < probs.length && cumulative < topP * total) cumulative += probs[keep++];
      candidates = candidates.slice(0, Math.max(1, keep));
      probs = probs.slice(0, candidates.length);
    }
    if (minP > 0) {
      const threshold = minP * probs[0];
      const keep = Math.max(1, probs.filter((p) => p >= threshold).length);
      candidates = candidates.slice(0, keep);
      probs = probs.slice(0, keep);
    }
    total = probs.reduce((a, b) => a + b, 0);
    let r = this.random() * total;
    for (let i = 0; i < candidates.length; i++) {
      r -= probs[i];
      if (r <= 0) return candidates[i];
    }
    return candidates[candidates.length - 1];
  }
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
