/**
 * Turns a stream of token ids into text deltas. Bytes are buffered until they form whole UTF-8
 * characters, so a delta never ends in half a character; invalid sequences become U+FFFD exactly
 * as a one-shot lossy decode of all the bytes would.
 */
export class StreamDecoder {
  private readonly utf8 = new TextDecoder("utf-8", { fatal: false });

  constructor(private readonly bytesOf: (id: number) => Uint8Array) {}

  /** Text completed by this token (possibly empty). */
  push(id: number): string {
    return this.utf8.decode(this.bytesOf(id), { stream: true });
  }

  /** Flushes an incomplete trailing sequence (as U+FFFD). */
  end(): string {
    return this.utf8.decode();
  }
}
