/**
 * GPT-2 byte-level alphabet: every byte maps to one printable character, so BPE pieces are strings.
 * Printable Latin-1 bytes map to themselves; the rest map to code points from 256 upwards, in order.
 */
export function byteLevelAlphabet(): string[] {
  const table: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    table[b] = String.fromCharCode(printable ? b : next++);
  }
  return table;
}

const CHAR_TO_BYTE = new Map(byteLevelAlphabet().map((ch, b) => [ch, b]));

/** The raw bytes a byte-level BPE piece stands for. */
export function byteLevelPieceToBytes(piece: string): Uint8Array {
  const bytes = new Uint8Array(piece.length);
  for (let i = 0; i < piece.length; i++) {
    const b = CHAR_TO_BYTE.get(piece[i]);
    if (b === undefined) throw new Error(`character ${JSON.stringify(piece[i])} is not in the byte-level alphabet`);
    bytes[i] = b;
  }
  return bytes;
}
