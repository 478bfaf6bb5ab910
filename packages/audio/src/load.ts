import { resample } from "./resample.js";
import { readWav, type WavReadOptions } from "./wav.js";

/**
 * A WAV file as float mono at `sampleRate`: channels averaged, then resampled (torchaudio's default
 * method) when the file's rate differs. This is LFM2-Audio's input path up to the log-mel front end.
 */
export async function loadAudio(input: string | Uint8Array, sampleRate: number, options: WavReadOptions = {}): Promise<Float32Array> {
  const wav = await readWav(input, options);
  return resample(wav.samples, wav.sampleRate, sampleRate);
}
