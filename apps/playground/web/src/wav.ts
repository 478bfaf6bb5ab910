/** 16-bit PCM WAV in the browser, and base64 of bytes. */

/** A mono 16-bit PCM WAV file of `samples` (floats in [-1, 1]). */
export function encodeWav(samples: Float32Array, sampleRate: number): Uint8Array {
  const bytes = new Uint8Array(44 + samples.length * 2);
  const view = new DataView(bytes.buffer);
  const ascii = (offset: number, text: string) => {
    for (let i = 0; i < text.length; i++) view.setUint8(offset + i, text.charCodeAt(i));
  };
  ascii(0, "RIFF");
  view.setUint32(4, 36 + samples.length * 2, true);
  ascii(8, "WAVE");
  ascii(12, "fmt ");
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true); // byte rate
  view.setUint16(32, 2, true); // block align
  view.setUint16(34, 16, true); // bits per sample
  ascii(36, "data");
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const s = Math.max(-1, Math.min(1, samples[i] ?? 0));
    view.setInt16(44 + i * 2, s < 0 ? s * 0x8000 : s * 0x7fff, true);
  }
  return bytes;
}

/** Whether the bytes are a RIFF/WAVE file holding 16-bit PCM (what the server reads as is). */
export function isPcm16Wav(bytes: Uint8Array): boolean {
  if (bytes.length < 44) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (tag(0) !== "RIFF" || tag(8) !== "WAVE") return false;
  for (let offset = 12; offset + 8 <= bytes.length; ) {
    const size = view.getUint32(offset + 4, true);
    if (tag(offset) === "fmt ") return view.getUint16(offset + 8, true) === 1 && view.getUint16(offset + 22, true) === 16;
    offset += 8 + size + (size % 2);
  }
  return false;
}

/** Speech models read 16 kHz mono. */
export const SPEECH_RATE = 16_000;

/** Any audio the browser can decode (a recording, an MP3, a float WAV…) as a 16 kHz mono 16-bit WAV. */
export async function toWav(encoded: ArrayBuffer): Promise<{ wav: Uint8Array; seconds: number }> {
  const context = new AudioContext();
  let decoded: AudioBuffer;
  try {
    decoded = await context.decodeAudioData(encoded);
  } finally {
    void context.close();
  }
  const length = Math.max(1, Math.ceil(decoded.duration * SPEECH_RATE));
  const offline = new OfflineAudioContext(1, length, SPEECH_RATE);
  const source = offline.createBufferSource();
  source.buffer = decoded; // channels are mixed down to the one output channel
  source.connect(offline.destination);
  source.start();
  const rendered = await offline.startRendering();
  return { wav: encodeWav(rendered.getChannelData(0), SPEECH_RATE), seconds: decoded.duration };
}

/** Seconds of a PCM16 WAV, from its header. */
export function wavSeconds(bytes: Uint8Array): number | undefined {
  if (!isPcm16Wav(bytes)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let offset = 12;
  let rate = 0;
  let channels = 1;
  while (offset + 8 <= bytes.length) {
    const tag = String.fromCharCode(...bytes.subarray(offset, offset + 4));
    const size = view.getUint32(offset + 4, true);
    if (tag === "fmt ") {
      channels = view.getUint16(offset + 10, true);
      rate = view.getUint32(offset + 12, true);
    } else if (tag === "data" && rate > 0) {
      return Math.min(size, bytes.length - offset - 8) / (2 * channels * rate);
    }
    offset += 8 + size + (size % 2);
  }
  return undefined;
}

export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(base64: string): Uint8Array {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
