/**
 * Image files to 8-bit RGB pixels with sharp, the way transformers sees them: PIL opens the file,
 * `ImageOps.exif_transpose` applies the EXIF orientation, and `convert("RGB")` makes RGB without
 * compositing alpha and without colour management. Sizes are checked from the header before any
 * pixel is decoded.
 */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { LfmkitError } from "@lfmkit/core";
import sharp, { type Metadata } from "sharp";
import { gifTransparentColour } from "./gif.js";

export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** Row-major pixels, 3 bytes (R, G, B) each. */
  readonly data: Uint8Array;
}

export interface DecodeOptions {
  /** Images with more pixels than this are refused from their header (default 100 megapixels). */
  readonly maxPixels?: number;
}

export const DEFAULT_MAX_PIXELS = 100_000_000;

const SUPPORTED = "PNG, JPEG, WebP, GIF, AVIF, TIFF";
const SUPPORTED_FORMATS = new Set(["png", "jpeg", "webp", "gif", "heif", "tiff"]);

/** Decodes an image file (path) or its bytes into 8-bit RGB; bad input throws a one-line LfmkitError. */
export async function decodeImage(input: string | Uint8Array, options: DecodeOptions = {}): Promise<RgbImage> {
  const where = typeof input === "string" ? input : "image buffer";
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  checkSource(input, where);
  const header = await readHeader(input, where);
  checkHeader(header, maxPixels, where);
  try {
    return await decodePixels(input, header, maxPixels);
  } catch (error) {
    throw new LfmkitError(`image data is corrupt or truncated (${firstLine(error)})`, where);
  }
}

function checkSource(input: string | Uint8Array, where: string): void {
  if (typeof input !== "string") {
    if (input.length === 0) throw new LfmkitError("empty (0 bytes)", where);
    return;
  }
  if (!existsSync(input)) throw new LfmkitError("file does not exist", where);
  const stat = statSync(input);
  if (!stat.isFile()) throw new LfmkitError("not a file", where);
  if (stat.size === 0) throw new LfmkitError("file is empty (0 bytes)", where);
}

async function readHeader(input: string | Uint8Array, where: string): Promise<Metadata> {
  let header: Metadata;
  try {
    header = await sharp(input, { limitInputPixels: false }).metadata();
  } catch (error) {
    const detail = firstLine(error).replace(/:$/, "");
    if (/unsupported image format/i.test(detail)) throw new LfmkitError(`not an image in a supported format (${SUPPORTED})`, where);
    // libpng rejects a zero side as a corrupt header; say what is wrong with it.
    const declared = pngDeclaredSize(readHead(input, 24));
    if (declared && (declared.width === 0 || declared.height === 0)) throw new LfmkitError(`image has no pixels (${declared.width}×${declared.height})`, where);
    throw new LfmkitError(`image header is corrupt (${detail})`, where);
  }
  if (!SUPPORTED_FORMATS.has(header.format) || (header.format === "heif" && header.compression !== "av1")) {
    const name = header.format === "heif" ? `heif/${header.compression}` : header.format;
    throw new LfmkitError(`${name} images are not supported (${SUPPORTED})`, where);
  }
  return header;
}

function checkHeader(header: Metadata, maxPixels: number, where: string): void {
  const { width, height } = header;
  if (!(width > 0 && height > 0)) throw new LfmkitError(`image has no pixels (${width}×${height})`, where);
  if (width * height > maxPixels) {
    const megapixels = (n: number) => `${+(n / 1e6).toFixed(1)} megapixels`;
    throw new LfmkitError(`image is ${width}×${height} (${megapixels(width * height)}), over the limit of ${megapixels(maxPixels)}`, where);
  }
}

async function decodePixels(input: string | Uint8Array, header: Metadata, maxPixels: number): Promise<RgbImage> {
  // ignoreIcc: PIL's convert("RGB") keeps the stored values, so no profile is applied.
  // failOn "truncated": refuse cut-off data as PIL does, but accept what libjpeg only warns about.
  const image = sharp(input, { limitInputPixels: maxPixels, ignoreIcc: true, pages: 1, failOn: "truncated" }).rotate();
  if (header.space === "cmyk") {
    const { data, info } = await image.pipelineColourspace("cmyk").toColourspace("cmyk").raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height, data: cmykToRgb(data, info.channels) };
  }
  if (header.depth === "ushort") {
    const grey = header.space === "grey16";
    const { data, info } = await image.toColourspace(grey ? "grey16" : "rgb16").raw({ depth: "ushort" }).toBuffer({ resolveWithObject: true });
    const samples = new Uint16Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    // PIL opens 16-bit grey without alpha as mode I;16, whose RGB conversion clips at 255; every
    // other 16-bit layout is read as 8-bit by keeping the high byte.
    const to8bit = grey && !header.hasAlpha ? (v: number) => Math.min(v, 255) : (v: number) => v >> 8;
    return { width: info.width, height: info.height, data: pickRgb(samples, info.channels, to8bit) };
  }
  if (header.format === "gif") {
    const { data, info } = await image.ensureAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
    const bytes = typeof input === "string" ? readFileSync(input) : input;
    return { width: info.width, height: info.height, data: fillTransparent(data, gifTransparentColour(bytes)) };
  }
  const { data, info } = await image.removeAlpha().toColourspace("srgb").raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** R, G, B (or grey three times) from interleaved samples with 1–4 channels; alpha is dropped. */
function pickRgb(samples: Uint16Array, channels: number, to8bit: (v: number) => number): Uint8Array {
  const pixels = samples.length / channels;
  const out = new Uint8Array(pixels * 3);
  const colour = channels >= 3;
  for (let p = 0; p < pixels; p++) {
    for (let c = 0; c < 3; c++) out[3 * p + c] = to8bit(samples[p * channels + (colour ? c : 0)]);
  }
  return out;
}

/** PIL's CMYK → RGB: each channel (255 − K) − X·(255 − K)/255, rounded as PIL's MULDIV255. */
function cmykToRgb(cmyk: Uint8Array, channels: number): Uint8Array {
  const pixels = cmyk.length / channels;
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const notK = 255 - cmyk[p * channels + 3];
    for (let c = 0; c < 3; c++) {
      const t = cmyk[p * channels + c] * notK + 128;
      out[3 * p + c] = notK - (((t >> 8) + t) >> 8);
    }
  }
  return out;
}

/** RGBA → RGB, with fully transparent pixels set to the palette colour PIL shows there. */
function fillTransparent(rgba: Uint8Array, colour: [number, number, number] | undefined): Uint8Array {
  const pixels = rgba.length / 4;
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const transparent = colour !== undefined && rgba[4 * p + 3] === 0;
    for (let c = 0; c < 3; c++) out[3 * p + c] = transparent ? colour[c] : rgba[4 * p + c];
  }
  return out;
}

function readHead(input: string | Uint8Array, length: number): Uint8Array {
  if (typeof input !== "string") return input.subarray(0, length);
  const head = Buffer.alloc(length);
  const fd = openSync(input, "r");
  try {
    return head.subarray(0, readSync(fd, head, 0, length, 0));
  } finally {
    closeSync(fd);
  }
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

/** The size a PNG's IHDR declares, when the bytes start like a PNG. */
function pngDeclaredSize(head: Uint8Array): { width: number; height: number } | undefined {
  if (head.length < 24 || PNG_SIGNATURE.some((byte, i) => head[i] !== byte)) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

function firstLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split("\n")[0].trim();
}
