import * as fs from "node:fs";

/** Bytes that differ with their position. */
export const pattern = (length: number) => Uint8Array.from({ length }, (_, i) => (i * 2654435761) >>> 24);

/**
 * `node:fs` over `contents` that behaves as direct I/O does: a file opened with O_DIRECT is read only
 * at offsets, lengths and memory (relative to its buffer) in whole 4096-byte blocks (EINVAL
 * otherwise), `shortReads` returns at most three blocks per read, and `refuseAfter` answers EINVAL
 * from that many direct reads on. `counts` tells how many direct reads there were, and into which buffers.
 */
export function directIoFiles(contents: Uint8Array, options: { shortReads?: boolean; refuseAfter?: number } = {}) {
  const O_DIRECT = fs.constants.O_DIRECT ?? 0x4000;
  const direct = new Map<number, boolean>();
  const counts = { directReads: 0, directInto: new Set<ArrayBufferLike>() };
  const einval = () => Object.assign(new Error("EINVAL: invalid argument, read"), { code: "EINVAL" });
  const files = {
    constants: { O_RDONLY: 0, O_DIRECT },
    statSync: () => ({ size: contents.length }),
    openSync: (_path: string, flags: number | string) => {
      const fd = direct.size + 10;
      direct.set(fd, typeof flags === "number" && (flags & O_DIRECT) !== 0);
      return fd;
    },
    closeSync: () => undefined,
    readSync: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => {
      let limit = length;
      if (direct.get(fd)) {
        if (position % 4096 !== 0 || length % 4096 !== 0 || (buffer.byteOffset + offset) % 4096 !== 0) throw einval();
        counts.directInto.add(buffer.buffer);
        if (options.refuseAfter !== undefined && counts.directReads >= options.refuseAfter) throw einval();
        counts.directReads++;
        if (options.shortReads) limit = Math.min(length, 3 * 4096);
      }
      const n = Math.max(0, Math.min(limit, contents.length - position));
      buffer.set(contents.subarray(position, position + n), offset);
      return n;
    },
  };
  return { files: files as unknown as typeof fs, counts };
}
