/** Interleaved WAV sample bytes → float mono, with the scaling and downmix of the reference loaders. */
import type { SampleEncoding } from "./wav-header.js";

/**
 * Integer samples are divided by 2^(bits−1) (8-bit is unsigned, centred on 128), as torchaudio and
 * soundfile do, so 16-bit −32768 → −1 and 32767 → 32767/32768 (not wav-decoder's asymmetric scaling).
 */
const SAMPLE_READERS: Record<SampleEncoding, { bytes: number; read: (view: DataView, offset: number) => number }> = {
  uint8: { bytes: 1, read: (view, offset) => (view.getUint8(offset) - 128) / 128 },
  int16: { bytes: 2, read: (view, offset) => view.getInt16(offset, true) / 32768 },
  int24: { bytes: 3, read: (view, offset) => ((view.getInt8(offset + 2) << 16) | view.getUint16(offset, true)) / 8388608 },
  int32: { bytes: 4, read: (view, offset) => view.getInt32(offset, true) / 2147483648 },
  float32: { bytes: 4, read: (view, offset) => view.getFloat32(offset, true) },
  float64: { bytes: 8, read: (view, offset) => view.getFloat64(offset, true) },
};

/**
 * Decodes `frames` interleaved frames from `bytes`. Channels are averaged, as transformers' feature
 * extractors downmix (`mean` over the channel axis of float32 samples); each channel sample is
 * rounded to float32 first, as the reference loaders return float32.
 */
export function decodeToMono(bytes: Uint8Array, frames: number, channels: number, encoding: SampleEncoding): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { bytes: sampleBytes, read } = SAMPLE_READERS[encoding];
  const out = new Float32Array(frames);
  for (let frame = 0, offset = 0; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++, offset += sampleBytes) sum += Math.fround(read(view, offset));
    out[frame] = sum / channels;
  }
  return out;
}
