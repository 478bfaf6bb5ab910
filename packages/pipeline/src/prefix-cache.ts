/**
 * Decoder states kept after each answer, keyed by the prompt positions they have seen, so a request
 * that extends one (the next turn of a conversation) prefills only its new tokens. States are handed
 * over, never copied, so reuse costs no time that grows with the conversation.
 *
 * A state continues from its end, or from a mark taken right after its prompt: conv states cannot be
 * computed backwards, but the mark keeps them (a few rows per conv layer), and the cached attention
 * rows before a position never change. So a conversation whose last answer comes back tokenized
 * differently from how it was generated (the model is free to emit a non-canonical tokenization),
 * or edited by the user, still reuses everything up to that answer; and since the mark also keeps the
 * logits the prompt ended on, the same prompt asked again (regenerate) prefills nothing. Images are
 * part of the key: a prompt's image tokens match only where the same images stand.
 */
import type { DecoderState, PromptEnd } from "@lfmkit/text";

/** Where a prompt continues a kept state, and the logits to answer from when that is the prompt's end. */
interface ResumePoint {
  readonly position: number;
  readonly logits?: Float32Array;
}

export interface PromptKey {
  readonly ids: readonly number[];
  /** One digest per image, in prompt order (empty for text). */
  readonly images: readonly string[];
}

interface Entry {
  readonly key: PromptKey;
  readonly state: DecoderState;
  /** Prompt ends within `state` (before or at its end) it can go back to, by position. */
  readonly marks: readonly PromptEnd[];
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
   * The kept state that covers the longest start of the prompt, moved to the end of that start, with
   * the number of images those positions hold, and the logits to answer from when it covers the whole
   * prompt (otherwise at least one position is left to prefill: it gives the first logits). The entry
   * is handed over, not copied: the request continues it, and keeps the state after its own answer,
   * which supersedes it.
   */
  take(prompt: PromptKey): { state: DecoderState; images: number; logits?: Float32Array } | undefined {
    let best: { entry: Entry; point: ResumePoint } | undefined;
    for (const entry of this.entries) {
      if (!entry.key.images.every((digest, i) => prompt.images[i] === digest)) continue;
      const point = resumePoint(entry, prompt.ids);
      if (point.position > (best?.point.position ?? 0)) best = { entry, point };
    }
    if (!best) return undefined;
    const { entry, point } = best;
    this.entries = this.entries.filter((e) => e !== entry);
    this.held -= entry.bytes;
    if (point.position < entry.state.position) entry.state.rewind(entry.marks.find((m) => m.position === point.position)!);
    return { state: entry.state, images: entry.key.images.length, logits: point.logits };
  }

  /**
   * Keeps `state` (its request is done with it), which has seen exactly the positions of `key`, with
   * the prompt ends it can go back to; evicts the least recently used beyond the budget.
   */
  keep(key: PromptKey, state: DecoderState, marks: readonly PromptEnd[] = []): void {
    if (this.budgetBytes === 0 || state.position !== key.ids.length) return;
    const kept = marks.filter((m) => m.position > 0 && m.position <= key.ids.length);
    const bytes = kept.reduce((n, m) => n + m.logits.byteLength, state.bytes);
    if (bytes > this.budgetBytes) return;
    this.entries = this.entries.filter((e) => !sameKey(e.key, key));
    this.entries.push({ key, state, marks: kept, bytes });
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

/**
 * The furthest point of an entry's state that a prompt can continue from (position 0: none): its end,
 * if the prompt extends all of it, else its latest mark within the start they share. A point before
 * the prompt's end leaves positions to prefill; the end itself serves only with the logits kept there.
 */
function resumePoint({ key, marks }: Entry, prompt: readonly number[]): ResumePoint {
  const shared = sharedLength(key.ids, prompt);
  if (shared === key.ids.length && shared < prompt.length) return { position: shared };
  let best: ResumePoint = { position: 0 };
  for (const { position, logits } of marks) {
    if (position <= shared && position > best.position) best = { position, logits: position === prompt.length ? logits : undefined };
  }
  return best;
}

/** How many leading ids `a` and `b` share. */
function sharedLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

function sameKey(a: PromptKey, b: PromptKey): boolean {
  return a.ids.length === b.ids.length && a.images.length === b.images.length && a.ids.every((id, i) => b.ids[i] === id) && a.images.every((d, i) => b.images[i] === d);
}
