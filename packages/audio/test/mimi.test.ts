/**
 * The Mimi codec against the reference fixtures (transformers' MimiModel): codes of the reference
 * waveform, audio of the reference codes, the decoder stream against the one-shot decode, and the same
 * checkpoint under moshi's weight names. Shapes, rates and counts all come from the fixture files.
 */
import { copyFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { Checkpoint, LfmkitError, QUANT_BLOCK_SIZE, quantizeBlockwise, writeSafetensors, type SafetensorsEntry } from "@lfmkit/core";
import { checkpointFixtures, maxAbsDiff, readJson, scratchDir, testCacheDir, SUMMATION_ORDER_BOUND, dequantizedCopy as sharedDequantizedCopy, relativeError } from "@lfmkit/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readWav } from "../src/index.js";
import { MimiCodec, codesFromFrames, type MimiCodes } from "../src/mimi-codec.js";

const fixtures = checkpointFixtures("mimi");

it("finds the Mimi fixtures", () => {
  expect(fixtures.length).toBeGreaterThan(0);
});

interface Reference {
  readonly input: Float32Array;
  readonly codes: MimiCodes;
  readonly audio: Float32Array;
}

function readReference(dir: string): Reference {
  const ref = Checkpoint.openFile(join(dir, "reference.safetensors"));
  const [codebooks, frames] = ref.info("audio_codes").shape.slice(-2);
  return {
    input: ref.readF32("input_values"),
    codes: { codebooks, frames, data: Int32Array.from(ref.readInts("audio_codes")) },
    audio: ref.readF32("audio_values"),
  };
}

/** Decodes `codes` through a stream, `chunk` frames per push. */
async function streamed(codec: MimiCodec, codes: MimiCodes, chunk: number): Promise<Float32Array> {
  const frames = Array.from({ length: codes.frames }, (_, t) => Array.from({ length: codes.codebooks }, (_, c) => codes.data[c * codes.frames + t]));
  async function* chunks() {
    for (let first = 0; first < frames.length; first += chunk) yield codesFromFrames(frames.slice(first, first + chunk));
  }
  const parts: Float32Array[] = [];
  for await (const audio of codec.decoderStream().audio(chunks())) {
    expect(audio.length).toBe(Math.min(chunk, codes.frames - parts.length * chunk) * codec.samplesPerFrame);
    parts.push(audio);
  }
  return Float32Array.from(parts.flatMap((p) => Array.from(p)));
}

/**
 * The tensors Mimi's graphs multiply through `ops.linear` at the load's precision, so store as 8/4-bit
 * blocks at q8/q4: the q/k/v/o projections and MLP of both transformers (the encoder's in the tokenizer,
 * the decoder's in the detokenizer). The quantizers' input/output projections are linear layers kept
 * float32 by the graph; the SEANet convolutions, codebooks, norms and layer scales are not linear layers.
 */
const QUANTIZED = /^(encoder|decoder)_transformer\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.fc[12])\.weight$/;

/** A copy of the checkpoint whose quantized weights are their `bits` blocks, dequantized by the independent reader. */
function dequantizedCopy(dir: string, bits: 4 | 8): string {
  const checkpoint = Checkpoint.open(dir);
  return sharedDequantizedCopy(dir, {
    matrixOf: (name, shape) => (QUANTIZED.test(name) ? [shape[0], shape[1]] : undefined),
    read: (name) => checkpoint.readF32(name),
    quantize: (w, rows, cols) => quantizeBlockwise(w, rows, cols, bits, QUANT_BLOCK_SIZE[bits]),
  });
}



describe.each(fixtures)("Mimi codec: %s", (dir) => {
  const reference = readReference(dir);
  let codec: MimiCodec;

  beforeAll(async () => {
    codec = await MimiCodec.load(dir, { codebooks: reference.codes.codebooks, cacheDir: testCacheDir() });
  });
  afterAll(() => codec?.dispose());

  it("encodes the reference waveform (read from its WAV) to the reference codes exactly", async () => {
    const wav = await readWav(resolve(dir, "..", readJson<{ input_wav: string }>(join(dir, "reference.json")).input_wav));
    expect(wav.sampleRate).toBe(codec.sampleRate);
    expect(maxAbsDiff(wav.samples, reference.input)).toBeLessThanOrEqual(1e-6);
    const codes = await codec.encode(reference.input);
    expect([codes.codebooks, codes.frames]).toEqual([reference.codes.codebooks, reference.codes.frames]);
    expect(Array.from(codes.data)).toEqual(Array.from(reference.codes.data));
  });

  it("decodes the reference codes within 1e-4 of the reference audio", async () => {
    const audio = await codec.decode(reference.codes);
    expect(audio.length).toBe(reference.audio.length);
    expect(maxAbsDiff(audio, reference.audio)).toBeLessThanOrEqual(1e-4);
  });

  it.each([1, 3, 7])("streams the decode %i frames at a time within 1e-5 of the one-shot decode", async (chunk) => {
    const oneShot = await codec.decode(reference.codes);
    expect(maxAbsDiff(await streamed(codec, reference.codes, chunk), oneShot)).toBeLessThanOrEqual(1e-5);
  });

  it("encodes chunk by chunk (1 and 4 frames per graph call) to the reference codes exactly", async () => {
    for (const chunkFrames of [1, 4]) {
      const chunked = await MimiCodec.load(dir, { codebooks: reference.codes.codebooks, chunkFrames, cacheDir: testCacheDir() });
      try {
        expect(Array.from((await chunked.encode(reference.input)).data)).toEqual(Array.from(reference.codes.data));
      } finally {
        await chunked.dispose();
      }
    }
  });

  it("streams past the attention window (caches trimmed to it): 7-frame pushes equal one call over all the frames", async () => {
    const config = readJson(join(dir, "config.json"));
    const frames = Math.ceil((config.sliding_window + 20) / codec.config.positionsPerFrame);
    const { codebooks } = reference.codes;
    // Enough pseudo-random frames for the transformer positions to pass the attention window.
    let seed = 1;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % config.codebook_size;
    const codes: MimiCodes = { codebooks, frames, data: Int32Array.from({ length: codebooks * frames }, random) };
    const whole = await MimiCodec.load(dir, { codebooks, chunkFrames: frames, cacheDir: testCacheDir() });
    try {
      expect(maxAbsDiff(await streamed(codec, codes, 7), await whole.decode(codes))).toBeLessThanOrEqual(1e-5);
    } finally {
      await whole.dispose();
    }
  });

  it("gives the same codes and audio from the weights under moshi's names", async () => {
    const moshiFile = join(scratchDir("mimi-moshi"), "tokenizer-test.safetensors");
    writeMoshiCopy(dir, moshiFile);
    const moshi = await MimiCodec.load(moshiFile, { codebooks: reference.codes.codebooks, config: readJson(join(dir, "config.json")), cacheDir: testCacheDir() });
    try {
      expect(moshi.naming).toBe("moshi");
      expect(Array.from((await moshi.encode(reference.input)).data)).toEqual(Array.from(reference.codes.data));
      expect(maxAbsDiff(await moshi.decode(reference.codes), reference.audio)).toBeLessThanOrEqual(1e-4);
    } finally {
      await moshi.dispose();
    }
  });

  it("reads a folder holding the moshi-named weights beside the Mimi config.json", async () => {
    const folder = scratchDir("mimi-moshi-folder");
    writeMoshiCopy(dir, join(folder, "model.safetensors"));
    copyFileSync(join(dir, "config.json"), join(folder, "config.json"));
    const moshi = await MimiCodec.load(folder, { codebooks: reference.codes.codebooks, cacheDir: testCacheDir() });
    try {
      expect([moshi.naming, moshi.samplesPerFrame]).toEqual(["moshi", codec.samplesPerFrame]);
    } finally {
      await moshi.dispose();
    }
  });

  it.each([8, 4] as const)("q%i computes what f32 computes with the same blocks dequantized: the audio of the reference codes, and the codes", async (bits) => {
    const { codebooks } = reference.codes;
    const quantized = await MimiCodec.load(dir, { codebooks, weightFormat: bits === 8 ? "q8" : "q4", quantizedProducts: "exact", cacheDir: testCacheDir() });
    const dequantized = await MimiCodec.load(dequantizedCopy(dir, bits), { codebooks, cacheDir: testCacheDir() });
    try {
      const error = relativeError(await quantized.decode(reference.codes), await dequantized.decode(reference.codes));
      console.log(`${dir}: q${bits} decoded audio, relative error against dequantized f32 ${error.toExponential(2)}`);
      expect(error).toBeLessThanOrEqual(SUMMATION_ORDER_BOUND);
      // The encoder's latent is not an output, so only its codes can be compared. Each code is the
      // nearest entry to a latent the two graphs compute up to summation order: they agree unless a
      // latent lies within float32 rounding of two entries' boundary (which the f32 test's exact codes
      // against transformers assume away too). Codes move only with large latent errors, so this
      // checks the encoder transformer's quantized linears far less tightly than the audio checks the
      // decoder's.
      const [got, want] = [await quantized.encode(reference.input), await dequantized.encode(reference.input)];
      expect(Array.from(got.data)).toEqual(Array.from(want.data));
    } finally {
      await quantized.dispose();
      await dequantized.dispose();
    }
  });

  it("refuses codes of the wrong shape or outside the codebooks with a clear error", async () => {
    const { codebooks, frames, data } = reference.codes;
    const size: number = readJson(join(dir, "config.json")).codebook_size;
    const withCode = (code: number): MimiCodes => ({ codebooks, frames, data: Int32Array.from(data, (c, i) => (i === data.length - 1 ? code : c)) });
    await expect(codec.decode({ codebooks: codebooks - 1, frames, data: data.subarray(0, (codebooks - 1) * frames) })).rejects.toThrow(/codes have \d+ codebooks/);
    await expect(codec.decode({ codebooks, frames: frames + 1, data })).rejects.toThrow(LfmkitError);
    await expect(codec.decode(withCode(size))).rejects.toThrow(/outside the codebook/);
    await expect(codec.decoderStream().push(withCode(-1))).rejects.toThrow(/outside the codebook/);
    expect(() => codesFromFrames([[0, 1], [2]])).toThrow(LfmkitError);
    await expect(MimiCodec.load(dir, { codebooks: readJson(join(dir, "config.json")).num_quantizers + 1 })).rejects.toThrow(/codebooks must be between/);
  });
});

/**
 * The fixture's weights under moshi's names (architecture notes §4.7), as Kyutai's checkpoint stores
 * them: the decoder's transposed convolutions as `convtr`, q/k/v fused into `in_proj_weight` with the
 * q and k rows in moshi's interleaved-pair order (undoing transformers' per-head permutation).
 */
function writeMoshiCopy(dir: string, path: string): void {
  const config = readJson(join(dir, "config.json"));
  const checkpoint = Checkpoint.open(dir);
  const headDim: number = config.head_dim ?? config.hidden_size / config.num_attention_heads;
  // Decoder layers: conv, then per ratio ELU, transposed conv, residual blocks.
  const transposedLayers = new Set(config.upsampling_ratios.map((_: number, j: number) => 2 + j * (2 + config.num_residual_layers)));
  const entry = (name: string, shape: readonly number[], data: () => Float32Array): SafetensorsEntry => ({
    name,
    dtype: "F32",
    shape,
    bytes: () => {
      const values = data();
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    },
  });
  const moshiRows = (w: Float32Array, columns: number) => {
    const out = new Float32Array(w.length);
    const half = headDim / 2;
    for (let row = 0; row < w.length / columns; row++) {
      const [head, i, j] = [Math.floor(row / headDim), Math.floor((row % headDim) / 2), row % 2];
      out.set(w.subarray((head * headDim + j * half + i) * columns, (head * headDim + j * half + i + 1) * columns), row * columns);
    }
    return out;
  };
  const entries: SafetensorsEntry[] = [];
  for (const name of checkpoint.names()) {
    const shape = checkpoint.info(name).shape;
    const read = () => checkpoint.readF32(name);
    let m: RegExpExecArray | null;
    if ((m = /^(encoder|decoder)\.layers\.(\d+)\.conv\.(\w+)$/.exec(name))) {
      const kind = m[1] === "decoder" && transposedLayers.has(Number(m[2])) ? "convtr" : "conv";
      entries.push(entry(`${m[1]}.model.${m[2]}.${kind}.${kind}.${m[3]}`, shape, read));
    } else if ((m = /^(encoder|decoder)\.layers\.(\d+)\.(block\.\d+|shortcut)\.conv\.(\w+)$/.exec(name))) {
      entries.push(entry(`${m[1]}.model.${m[2]}.${m[3]}.conv.conv.${m[4]}`, shape, read));
    } else if (name === "downsample.conv.weight") {
      entries.push(entry("downsample.conv.conv.conv.weight", shape, read));
    } else if (name === "upsample.conv.weight") {
      entries.push(entry("upsample.convtr.convtr.convtr.weight", shape, read));
    } else if ((m = /^quantizer\.(semantic|acoustic)_residual_vector_quantizer\.(.*)$/.exec(name))) {
      const rvq = m[1] === "semantic" ? "rvq_first" : "rvq_rest";
      const codebook = /^layers\.(\d+)\.codebook\.(embed_sum|cluster_usage|initialized)$/.exec(m[2]);
      const moshiField = codebook && { embed_sum: "embedding_sum", cluster_usage: "cluster_usage", initialized: "_initialized" }[codebook[2]];
      entries.push(entry(codebook ? `quantizer.${rvq}.vq.layers.${codebook[1]}._codebook.${moshiField}` : `quantizer.${rvq}.${m[2]}`, shape, read));
    } else if ((m = /^(encoder|decoder)_transformer\.layers\.(\d+)\.(.*)$/.exec(name))) {
      const layer = `${m[1]}_transformer.transformer.layers.${m[2]}`;
      const renames: Record<string, string> = {
        "input_layernorm.weight": "norm1.weight",
        "input_layernorm.bias": "norm1.bias",
        "post_attention_layernorm.weight": "norm2.weight",
        "post_attention_layernorm.bias": "norm2.bias",
        "mlp.fc1.weight": "linear1.weight",
        "mlp.fc2.weight": "linear2.weight",
        "self_attn_layer_scale.scale": "layer_scale_1.scale",
        "mlp_layer_scale.scale": "layer_scale_2.scale",
        "self_attn.o_proj.weight": "self_attn.out_proj.weight",
      };
      if (m[3] === "self_attn.q_proj.weight") {
        const columns = shape[1];
        const projection = (p: string) => `${m![1]}_transformer.layers.${m![2]}.self_attn.${p}_proj.weight`;
        const part = (p: string) => checkpoint.readF32(projection(p));
        const rows = shape[0] + 2 * checkpoint.info(projection("k")).shape[0];
        entries.push(entry(`${layer}.self_attn.in_proj_weight`, [rows, columns], () => Float32Array.from([...moshiRows(part("q"), columns), ...moshiRows(part("k"), columns), ...part("v")])));
      } else if (renames[m[3]]) {
        entries.push(entry(`${layer}.${renames[m[3]]}`, shape, read));
      } else if (!/^self_attn\.[kv]_proj\.weight$/.test(m[3])) {
        throw new Error(`no moshi name for ${name}`);
      }
    } else {
      throw new Error(`no moshi name for ${name}`);
    }
  }
  writeSafetensors(path, entries);
}
