/**
 * Synthetic inputs for the benchmarks: photo-like images (encoded with sharp, the decoder
 * @lfmkit/vision itself uses, resolved through that package so the bench adds no dependency of its
 * own) and a speech-like waveform. Deterministic, so every run measures the same input.
 */
import { existsSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { random } from "./harness.js";

interface SharpInstance {
  png(): SharpInstance;
  jpeg(options: { quality: number }): SharpInstance;
  toFile(path: string): Promise<unknown>;
}
type Sharp = (input: Buffer, options: { raw: { width: number; height: number; channels: 3 } }) => SharpInstance;

function sharp(): Sharp {
  const visionEntry = fileURLToPath(import.meta.resolve("@lfmkit/vision"));
  return createRequire(visionEntry)("sharp") as Sharp;
}

/**
 * RGB pixels with what photos have: smooth gradients, a few soft shapes, edges and fine noise (so
 * JPEG and the resize see real content, not a flat field).
 */
function photoPixels(width: number, height: number, seed: number): Buffer {
  const next = random(seed);
  const blobs = Array.from({ length: 12 }, () => ({ x: next() * width, y: next() * height, r: (0.05 + next() * 0.2) * Math.min(width, height), c: [next(), next(), next()] }));
  const pixels = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const u = x / width;
      const v = y / height;
      const rgb = [0.35 + 0.4 * v, 0.45 + 0.2 * Math.sin(6 * u), 0.6 - 0.3 * u];
      for (const b of blobs) {
        const d = Math.hypot(x - b.x, y - b.y) / b.r;
        if (d < 1) for (let c = 0; c < 3; c++) rgb[c] = rgb[c] * d + b.c[c] * (1 - d);
      }
      const stripe = (Math.floor(x / 37) + Math.floor(y / 53)) % 7 === 0 ? 0.1 : 0;
      for (let c = 0; c < 3; c++) pixels[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(255 * (rgb[c] + stripe + (next() - 0.5) * 0.06))));
    }
  }
  return pixels;
}

/** Writes the image once (PNG or JPEG by the extension); returns its path. */
export async function syntheticImage(dir: string, name: string, width: number, height: number): Promise<string> {
  const path = join(dir, name);
  if (existsSync(path)) return path;
  mkdirSync(dirname(path), { recursive: true });
  const image = sharp()(photoPixels(width, height, width * 7919 + height), { raw: { width, height, channels: 3 } });
  await (name.endsWith(".png") ? image.png() : image.jpeg({ quality: 90 })).toFile(path);
  return path;
}

/**
 * `seconds` of a speech-like signal at `sampleRate`: a voiced source (harmonics of a gliding pitch
 * around 110–220 Hz) shaped by moving formant-like resonances, syllable-rate loudness (~4 Hz) with
 * short pauses, and some breath noise; peak about 0.5.
 */
export function speechLikeAudio(seconds: number, sampleRate: number, seed = 7): Float32Array {
  const next = random(seed);
  const samples = new Float32Array(Math.round(seconds * sampleRate));
  let phase = 0;
  for (let i = 0; i < samples.length; i++) {
    const t = i / sampleRate;
    const f0 = 150 + 45 * Math.sin(2 * Math.PI * 0.7 * t) + 20 * Math.sin(2 * Math.PI * 2.3 * t);
    phase += (2 * Math.PI * f0) / sampleRate;
    const f1 = 500 + 250 * Math.sin(2 * Math.PI * 3.1 * t);
    const f2 = 1500 + 600 * Math.sin(2 * Math.PI * 1.7 * t + 1);
    let voiced = 0;
    for (let h = 1; h * f0 < Math.min(4000, sampleRate / 2); h++) {
      const f = h * f0;
      const gain = Math.exp(-(((f - f1) / 180) ** 2)) + 0.6 * Math.exp(-(((f - f2) / 250) ** 2)) + 0.05;
      voiced += (gain / h) * Math.sin(h * phase);
    }
    const syllable = Math.max(0, Math.sin(2 * Math.PI * 4 * t)) ** 0.5 * (Math.sin(2 * Math.PI * 0.45 * t) > -0.8 ? 1 : 0);
    samples[i] = 0.35 * syllable * voiced + 0.01 * (next() - 0.5);
  }
  return samples;
}
