/**
 * The palette colour behind the first frame's transparent pixels. PIL's `convert("RGB")` of a GIF's
 * first frame looks the transparent index up in the palette like any other, while sharp decodes
 * those pixels as (0, 0, 0, 0); this finds the colour PIL shows there. Only block headers are read.
 */
export function gifTransparentColour(bytes: Uint8Array): [number, number, number] | undefined {
  const ascii = String.fromCharCode(...bytes.subarray(0, 6));
  if (ascii !== "GIF87a" && ascii !== "GIF89a") return undefined;
  let offset = 13;
  const screenFlags = bytes[10];
  let globalPalette: Uint8Array | undefined;
  if (screenFlags & 0x80) {
    const length = 3 << ((screenFlags & 7) + 1);
    globalPalette = bytes.subarray(offset, offset + length);
    offset += length;
  }
  let transparentIndex: number | undefined;
  while (offset < bytes.length) {
    const introducer = bytes[offset];
    if (introducer === 0x21) {
      const label = bytes[offset + 1];
      // Graphic control extension: size 4, flags (bit 0: has transparency), delay (2 bytes), index.
      if (label === 0xf9 && bytes[offset + 2] === 4) transparentIndex = bytes[offset + 3] & 1 ? bytes[offset + 6] : undefined;
      offset = skipSubBlocks(bytes, offset + 2);
    } else if (introducer === 0x2c) {
      if (transparentIndex === undefined) return undefined;
      const imageFlags = bytes[offset + 9];
      const palette = imageFlags & 0x80 ? bytes.subarray(offset + 10, offset + 10 + (3 << ((imageFlags & 7) + 1))) : globalPalette;
      if (palette === undefined || 3 * transparentIndex + 2 >= palette.length) return undefined;
      return [palette[3 * transparentIndex], palette[3 * transparentIndex + 1], palette[3 * transparentIndex + 2]];
    } else {
      return undefined;
    }
  }
  return undefined;
}

/** The offset after a chain of length-prefixed data sub-blocks and its zero terminator. */
function skipSubBlocks(bytes: Uint8Array, offset: number): number {
  while (offset < bytes.length && bytes[offset] !== 0) offset += bytes[offset] + 1;
  return offset + 1;
}
