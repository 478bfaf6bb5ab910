import { closeSync, openSync, readSync, statSync } from "node:fs";
import { LfmkitError } from "../errors.js";

/**
 * A float32 matrix in a file whose rows are read on request, as a token embedding table: a forward
 * pass reads the rows of its tokens, so the table never becomes resident in the process.
 */
export class RowTable {
  private fd: number | undefined;

  constructor(
    readonly path: string,
    readonly rows: number,
    readonly columns: number,
  ) {
    const expected = rows * columns * 4;
    const size = statSync(path).size;
    if (size !== expected) throw new LfmkitError(`expected ${expected} bytes for a ${rows}×${columns} float32 table, found ${size}`, path);
    this.fd = openSync(path, "r");
  }

  /**
   * The rows at `indices`, one after another. Reads are synchronous on purpose: a row is a few KB,
   * usually in the page cache, and a `pread` of it costs microseconds, less than an async round trip.
   */
  gather(indices: readonly number[]): Float32Array {
    if (this.fd === undefined) throw new LfmkitError("the table is closed", this.path);
    const rowBytes = this.columns * 4;
    const out = new Float32Array(indices.length * this.columns);
    const bytes = new Uint8Array(out.buffer);
    indices.forEach((index, i) => {
      if (!Number.isInteger(index) || index < 0 || index >= this.rows) throw new LfmkitError(`row ${index} is outside the table's ${this.rows} rows`, this.path);
      if (readSync(this.fd!, bytes, i * rowBytes, rowBytes, index * rowBytes) !== rowBytes) throw new LfmkitError(`row ${index} could not be read in full`, this.path);
    });
    return out;
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
