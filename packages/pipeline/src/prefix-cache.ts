/**
 * Decoder states kept after each answer, keyed by the prompt positions they have seen, so a request
 * that extends one (the next turn of a conversation) prefills only its new tokens. States are handed
 * over, never copied, so reuse costs no time that grows with the conversation. A state can only be
 * continued from its end (a conv state cannot be rewound), so an entry serves prompts that extend all of
 * it. Images are part of the key: a prompt's image tokens match only where the same images stand.
 */
import type { DecoderState } from "@lfmkit/text";

export interface PromptKey {
  readonly ids: readonly number[];
  /** One digest per image, in prompt order (empty for text). */
  readonly images: readonly string[];
}

interface Entry {
  readonly key: PromptKey;
  readonly state: DecoderState;
  readonly bytes: number;
}

export class PrefixCache {
  /** Least recently used first. */
  private entries: Entry[] = [];
  private held = 0;

  constructor(
    /** Most bytes of decoder state kept; 0 turns reuse off. */
    readonly budgetBytes: number,
  ) {}

  /**
   * The longest kept state whose positions the prompt starts with and goes beyond, with the number of
   * images those positions hold. The entry is handed over, not copied: the request continues it, and
   * keeps the state after its own answer, which supersedes it (a conversation's earlier states are never
   * a prefix of its later prompts; a regenerated answer extends the state before the last answer, which
   * was not kept as such either).
   */
  take(prompt: PromptKey): { state: DecoderState; images: number } | undefined {
    let best: Entry | undefined;
    for (const entry of this.entries) {
      const { ids, images } = entry.key;
      if (ids.length >= prompt.ids.length || (best && ids.length <= best.key.ids.length)) continue;
      if (ids.every((id, i) => prompt.ids[i] === id) && images.every((digest, i) => prompt.images[i] === digest)) best = entry;
    }
    if (!best) return undefined;
    this.entries = this.entries.filter((e) => e !== best);
    this.held -= best.bytes;
    return { state: best.state, images: best.key.images.length };
  }

  /**
   * Keeps `state` (its request is done with it), which has seen exactly the positions of `key`, evicting
   * the least recently used beyond the budget.
   */
  keep(key: PromptKey, state: DecoderState): void {
    if (this.budgetBytes === 0 || state.position !== key.ids.length) return;
    const bytes = state.bytes;
    if (bytes > this.budgetBytes) return;
    this.entries = this.entries.filter((e) => !sameKey(e.key, key));
    this.entries.push({ key, state, bytes });
    this.held = this.entries.reduce((n, e) => n + e.bytes, 0);
    while (this.held > this.budgetBytes) this.held -= this.entries.shift()!.bytes;
  }

  get heldBytes(): number {
    return this.held;
  }

  get size(): number {
    return this.entries.length;
  }
}

function sameKey(a: PromptKey, b: PromptKey): boolean {
  return a.ids.length === b.ids.length && a.images.length === b.images.length && a.ids.every((id, i) => b.ids[i] === id) && a.images.every((d, i) => b.images[i] === d);
}
