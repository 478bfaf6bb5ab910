/**
 * Tokenizing a conversation's prompt without re-tokenizing its history: the prompt text of the previous
 * turn, up to its last `<|im_start|>`, is remembered with its ids, and a new prompt that starts with it
 * tokenizes only the rest. Cutting right after a special token is exact: the tokenizer splits special
 * tokens out before anything else, so the text on either side is tokenized on its own anyway.
 */
import type { TextTokenizer } from "@lfmkit/tokenizer";

const TURN_START = "<|im_start|>";
/** Prompt prefixes remembered, at most (one per live conversation is all that is used). */
const REMEMBERED = 64;

export class PromptTokens {
  /** Prefix text → its ids; least recently used first. */
  private readonly known = new Map<string, number[]>();
  private readonly cuttable: boolean;

  constructor(private readonly tokenizer: TextTokenizer) {
    const ids = tokenizer.encode(TURN_START);
    this.cuttable = ids.length === 1 && tokenizer.isSpecial(ids[0]);
  }

  /** The ids of `text`, equal to `tokenizer.encode(text)`. */
  encode(text: string): number[] {
    if (!this.cuttable) return this.tokenizer.encode(text);
    let start = "";
    for (const prefix of this.known.keys()) if (prefix.length > start.length && text.startsWith(prefix)) start = prefix;
    const known = start ? this.known.get(start)! : [];
    const lastTurn = text.lastIndexOf(TURN_START);
    const cut = lastTurn < 0 ? start.length : Math.max(start.length, lastTurn + TURN_START.length);
    const middle = this.tokenizer.encode(text.slice(start.length, cut));
    const ids = [...known, ...middle, ...this.tokenizer.encode(text.slice(cut))];
    if (cut > start.length) this.remember(text.slice(0, cut), [...known, ...middle]);
    return ids;
  }

  private remember(prefix: string, ids: number[]): void {
    this.known.delete(prefix);
    this.known.set(prefix, ids);
    if (this.known.size > REMEMBERED) this.known.delete(this.known.keys().next().value!);
  }
}
