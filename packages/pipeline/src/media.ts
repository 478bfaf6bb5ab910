/** Media parts to what the decoders read: a path stays a path, a `data:` URL becomes its bytes. */
import { LfmkitError } from "@lfmkit/core";

const DATA_URL = /^data:([^;,]*)(;base64)?,/;

/** A file path, or the bytes of a `data:` URL or of an in-memory file. */
export function mediaSource(input: string | Uint8Array, kind: string): string | Uint8Array {
  if (typeof input !== "string") return input;
  const match = DATA_URL.exec(input);
  if (!match) return input;
  const payload = input.slice(match[0].length);
  if (!match[2]) return new TextEncoder().encode(decodeURIComponent(payload));
  const bytes = Buffer.from(payload, "base64");
  if (bytes.length === 0) throw new LfmkitError(`the ${kind} data URL holds no data`);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
