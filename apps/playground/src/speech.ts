/** Generated speech as OpenAI's API carries it: 16-bit PCM, whole as WAV or raw, or streamed in base64 chunks. */
import { encodeWav } from "@lfmkit/audio";
import { concatFloat32 } from "@lfmkit/core";

/** Float samples as little-endian 16-bit PCM (clipped to ±1). */
export function pcm16(samples: Float32Array): Uint8Array {
  const out = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = Math.round(Math.max(-1, Math.min(1, samples[i])) * 32767);
  return new Uint8Array(out.buffer);
}

/** Collects an answer's speech for a whole (non-streamed) response. */
export class SpeechBuffer {
  private readonly chunks: Float32Array[] = [];
  sampleRate = 24000;

  add(chunk: { samples: Float32Array; sampleRate: number }): void {
    this.chunks.push(chunk.samples);
    this.sampleRate = chunk.sampleRate;
  }

  get samples(): Float32Array {
    return concatFloat32(this.chunks);
  }

  /** `message.audio` of a chat completion. */
  message(id: string, transcript: string, format: "wav" | "pcm16") {
    const bytes = format === "wav" ? encodeWav(this.samples, this.sampleRate, "pcm16") : pcm16(this.samples);
    return { id, data: Buffer.from(bytes).toString("base64"), expires_at: Math.floor(Date.now() / 1000) + 3600, transcript };
  }
}
