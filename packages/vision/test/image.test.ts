import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { LfmkitError } from "@lfmkit/core";
import { scratchDir } from "@lfmkit/testing";
import sharp from "sharp";
import { describe, expect, it } from "vitest";
import { decodeImage } from "../src/index.js";

const W = 24;
const H = 16;

/** A deterministic W×H pattern with `channels` bytes per pixel. */
function pattern(channels: number, seed = 0): Buffer {
  return Buffer.from(Array.from({ length: W * H * channels }, (_, i) => (i * 37 + seed * 101 + ((i * i) >> 3)) % 256));
}

/** Each pixel's first three channels (or its grey value three times). */
function rgbOf(pixels: ArrayLike<number>, channels: number, toByte = (v: number) => v): number[] {
  const out: number[] = [];
  for (let p = 0; p < W * H; p++) {
    for (let c = 0; c < 3; c++) out.push(toByte(pixels[p * channels + (channels >= 3 ? c : 0)]));
  }
  return out;
}

function raw(channels: 1 | 2 | 3 | 4) {
  return { raw: { width: W, height: H, channels } };
}

describe("decoding to RGB as PIL's convert('RGB') does", () => {
  const dir = scratchDir("vision-decode");

  it("drops alpha without compositing (RGBA and grey + alpha PNG, lossless WebP)", async () => {
    const rgba = pattern(4);
    await sharp(rgba, raw(4)).png().toFile(join(dir, "rgba.png"));
    await sharp(rgba, raw(4)).webp({ lossless: true, exact: true }).toFile(join(dir, "rgba.webp"));
    expect(rgba.some((_, i) => i % 4 === 3 && rgba[i] === 0)).toBe(true);
    for (const file of ["rgba.png", "rgba.webp"]) {
      const image = await decodeImage(join(dir, file));
      expect([image.width, image.height]).toEqual([W, H]);
      expect([...image.data]).toEqual(rgbOf(rgba, 4));
    }
    const greyAlpha = pattern(2);
    await sharp(greyAlpha, raw(2)).toColourspace("b-w").png().toFile(join(dir, "grey-alpha.png"));
    expect((await sharp(join(dir, "grey-alpha.png")).metadata()).channels).toBe(2);
    expect([...(await decodeImage(join(dir, "grey-alpha.png"))).data]).toEqual(rgbOf(greyAlpha, 2));
  });

  it("repeats grey into R, G and B", async () => {
    const grey = pattern(1);
    await sharp(grey, raw(1)).toColourspace("b-w").png().toFile(join(dir, "grey.png"));
    expect((await sharp(join(dir, "grey.png")).metadata()).channels).toBe(1);
    expect([...(await decodeImage(join(dir, "grey.png"))).data]).toEqual(rgbOf(grey, 1));
  });

  it("looks palette PNGs up in their palette, transparent entries included", async () => {
    const colours = [[200, 30, 40, 255], [10, 220, 90, 64], [30, 60, 250, 128], [240, 240, 10, 255]];
    const rgba = Buffer.from(Array.from({ length: W * H }, (_, p) => colours[(p * 7 + (p >> 3)) % 4]).flat());
    await sharp(rgba, raw(4)).png({ palette: true, colours: 4, dither: 0 }).toFile(join(dir, "palette.png"));
    expect((await sharp(join(dir, "palette.png")).metadata()).isPalette).toBe(true);
    expect([...(await decodeImage(join(dir, "palette.png"))).data]).toEqual(rgbOf(rgba, 4));
  });

  it("keeps the high byte of 16-bit colour, and clips 16-bit grey at 255 (PIL's mode I;16)", async () => {
    const samples = (channels: number) => new Uint16Array(W * H * channels).map((_, i) => (i * 40503 + 12345) % 65536);
    const colour = samples(3);
    await sharp(colour, raw(3)).toColourspace("rgb16").png().toFile(join(dir, "rgb16.png"));
    expect((await sharp(join(dir, "rgb16.png")).metadata()).depth).toBe("ushort");
    expect([...(await decodeImage(join(dir, "rgb16.png"))).data]).toEqual(rgbOf(colour, 3, (v) => v >> 8));

    const grey = samples(1).map((v, i) => (i % 3 === 0 ? v % 256 : v));
    await sharp(grey, raw(1)).toColourspace("grey16").png().toFile(join(dir, "grey16.png"));
    expect([...(await decodeImage(join(dir, "grey16.png"))).data]).toEqual(rgbOf(grey, 1, (v) => Math.min(v, 255)));
  });

  it("converts CMYK with PIL's formula, not through an ICC profile", async () => {
    await sharp(pattern(3), raw(3)).toColourspace("cmyk").jpeg({ quality: 100 }).toFile(join(dir, "cmyk.jpg"));
    expect((await sharp(join(dir, "cmyk.jpg")).metadata()).space).toBe("cmyk");
    const stored = await sharp(join(dir, "cmyk.jpg")).pipelineColourspace("cmyk").toColourspace("cmyk").raw().toBuffer();
    const expected: number[] = [];
    for (let p = 0; p < W * H; p++) {
      const notK = 255 - stored[4 * p + 3];
      for (let c = 0; c < 3; c++) expected.push(notK - Math.round((stored[4 * p + c] * notK) / 255));
    }
    expect([...(await decodeImage(join(dir, "cmyk.jpg"))).data]).toEqual(expected);
  });

  it("takes the first frame of an animated GIF", async () => {
    const colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255]];
    const frame = (shift: number) => Array.from({ length: W * H }, (_, p) => [...colours[(p + shift) % 4], 255]).flat();
    const frames = Buffer.from([...frame(0), ...frame(1)]);
    const gif = await sharp(frames, { raw: { width: W, height: 2 * H, channels: 4, pageHeight: H } }).gif().toBuffer();
    expect((await sharp(gif).metadata()).pages).toBe(2);
    const image = await decodeImage(gif);
    expect([image.width, image.height]).toEqual([W, H]);
    expect([...image.data]).toEqual(rgbOf(frame(0), 4));
  });

  it("shows a GIF's transparent pixels in their palette colour", async () => {
    // 2×1 GIF, global palette [red, green], index 1 transparent; pixels: index 0, index 1.
    // PIL: [[255, 0, 0], [0, 255, 0]] (checked with Pillow 12.3).
    const gif = Buffer.from([
      ...Buffer.from("GIF89a"), 2, 0, 1, 0, 0x80, 0, 0,
      255, 0, 0, 0, 255, 0,
      0x21, 0xf9, 4, 1, 0, 0, 1, 0,
      0x2c, 0, 0, 0, 0, 2, 0, 1, 0, 0,
      2, 2, 0x44, 0x0a, 0, 0x3b,
    ]);
    expect([...(await decodeImage(gif)).data]).toEqual([255, 0, 0, 0, 255, 0]);
  });

  it("applies the EXIF orientation", async () => {
    // Left half red, right half blue; orientation 6 displays it turned 90° clockwise: red on top.
    const halves = Buffer.from(Array.from({ length: W * H }, (_, p) => (p % W < W / 2 ? [255, 0, 0] : [0, 0, 255])).flat());
    await sharp(halves, raw(3)).jpeg({ quality: 100, chromaSubsampling: "4:4:4" }).withMetadata({ orientation: 6 }).toFile(join(dir, "rotated.jpg"));
    const image = await decodeImage(join(dir, "rotated.jpg"));
    expect([image.width, image.height]).toEqual([H, W]);
    const at = (x: number, y: number) => [...image.data.subarray((y * image.width + x) * 3, (y * image.width + x) * 3 + 3)];
    expect(at(H / 2, 2).map((v, c) => Math.abs(v - [255, 0, 0][c]))).toSatisfy((d: number[]) => d.every((x) => x <= 8));
    expect(at(H / 2, W - 3).map((v, c) => Math.abs(v - [0, 0, 255][c]))).toSatisfy((d: number[]) => d.every((x) => x <= 8));
  });

  it("reads TIFF and AVIF, from a path or a buffer alike", async () => {
    const rgb = pattern(3, 1);
    await sharp(rgb, raw(3)).tiff({ compression: "lzw" }).toFile(join(dir, "image.tiff"));
    const tiff = await decodeImage(join(dir, "image.tiff"));
    expect([...tiff.data]).toEqual(rgbOf(rgb, 3));
    expect([...(await decodeImage(readFileSync(join(dir, "image.tiff")))).data]).toEqual([...tiff.data]);

    await sharp(rgb, raw(3)).avif({ lossless: true }).toFile(join(dir, "image.avif"));
    const avif = await decodeImage(join(dir, "image.avif"));
    expect([avif.width, avif.height]).toEqual([W, H]);
    expect(avif.data.length).toBe(W * H * 3);
  });
});

describe("bad input", () => {
  const dir = scratchDir("vision-bad");

  /** Rejects with a one-line LfmkitError naming `where` and matching `what`, within seconds. */
  async function expectRefused(input: string | Buffer, where: string, what: RegExp, options = {}) {
    const started = performance.now();
    const error = await decodeImage(input, options).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(performance.now() - started).toBeLessThan(3000);
    expect(error).toBeInstanceOf(LfmkitError);
    const message = (error as LfmkitError).message;
    expect(message).not.toContain("\n");
    expect(message.startsWith(`${where}: `)).toBe(true);
    expect(message).toMatch(what);
  }

  /** A valid 64×64 PNG whose IHDR is rewritten to declare another size (its CRC recomputed). */
  async function pngDeclaring(width: number, height: number): Promise<Buffer> {
    const png = Buffer.from(await sharp(pattern(3), raw(3)).resize(64, 64).png().toBuffer());
    png.writeUInt32BE(width, 16);
    png.writeUInt32BE(height, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
    return png;
  }

  it("a missing path", async () => {
    const path = join(dir, "missing.png");
    await expectRefused(path, path, /does not exist/);
  });

  it("an empty file", async () => {
    const path = join(dir, "empty.png");
    writeFileSync(path, "");
    await expectRefused(path, path, /empty/);
  });

  it("a file that is not an image", async () => {
    const path = join(dir, "notes.png");
    writeFileSync(path, "these are notes, not pixels\n");
    await expectRefused(path, path, /not an image/);
  });

  it("a truncated PNG", async () => {
    const path = join(dir, "truncated.png");
    const noise = Buffer.from(Array.from({ length: 128 * 128 * 3 }, (_, i) => (i * 2654435761) >>> 24));
    const png = await sharp(noise, { raw: { width: 128, height: 128, channels: 3 } }).png().toBuffer();
    writeFileSync(path, png.subarray(0, png.length >> 1));
    await expectRefused(path, path, /truncated/);
  });

  it("a 0×0 PNG", async () => {
    const path = join(dir, "zero.png");
    writeFileSync(path, await pngDeclaring(0, 0));
    await expectRefused(path, path, /no pixels \(0×0\)/);
  });

  it("a 30000×30000 PNG, refused from its header", async () => {
    const path = join(dir, "huge.png");
    writeFileSync(path, await pngDeclaring(30000, 30000));
    await expectRefused(path, path, /30000×30000 .*over the limit of 100 megapixels/);
    await expectRefused(await pngDeclaring(3000, 3000), "image buffer", /over the limit of 1 megapixels/, { maxPixels: 1e6 });
  });
});
