/** Plays generated speech as it streams: PCM16 24 kHz mono chunks, queued back to back with Web Audio. */
import { fromBase64 } from "./wav.js";

export const SPEECH_OUTPUT_RATE = 24_000;

export class PcmPlayer {
  private context?: AudioContext;
  private nextTime = 0;
  private sources = new Set<AudioBufferSourceNode>();
  /** A byte left over when a chunk ends mid-sample. */
  private carry?: number;

  /** Creates or resumes the audio context; call from a user gesture so the browser lets it play. */
  unlock(): void {
    this.context ??= new AudioContext();
    if (this.context.state === "suspended") void this.context.resume();
  }

  get playing(): boolean {
    return this.sources.size > 0;
  }

  /** Queues one base64 PCM16 chunk right after what is already queued. */
  enqueue(base64: string): void {
    this.unlock();
    const context = this.context!;
    let bytes = fromBase64(base64);
    if (this.carry !== undefined) {
      const joined = new Uint8Array(bytes.length + 1);
      joined[0] = this.carry;
      joined.set(bytes, 1);
      bytes = joined;
      this.carry = undefined;
    }
    if (bytes.length % 2 === 1) {
      this.carry = bytes[bytes.length - 1];
      bytes = bytes.subarray(0, bytes.length - 1);
    }
    const count = bytes.length / 2;
    if (count === 0) return;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const buffer = context.createBuffer(1, count, SPEECH_OUTPUT_RATE);
    const channel = buffer.getChannelData(0);
    for (let i = 0; i < count; i++) channel[i] = view.getInt16(i * 2, true) / 0x8000;
    const source = context.createBufferSource();
    source.buffer = buffer;
    source.connect(context.destination);
    // A little lead time when the queue ran dry, so chunks arriving late do not click.
    const start = Math.max(this.nextTime, context.currentTime + 0.05);
    source.start(start);
    this.nextTime = start + buffer.duration;
    this.sources.add(source);
    source.addEventListener("ended", () => this.sources.delete(source));
  }

  /** Plays a whole answer's chunks again. */
  replay(chunks: readonly string[]): void {
    this.stop();
    for (const chunk of chunks) this.enqueue(chunk);
  }

  stop(): void {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch {
        // already stopped
      }
    }
    this.sources.clear();
    this.nextTime = 0;
    this.carry = undefined;
  }
}
