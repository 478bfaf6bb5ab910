import { closeSync, openSync, readSync, statSync } from "node:fs";
import { LfmkitError } from "../errors.js";

/**
 * Rows of a matrix in a file, read on request, as a token embedding table: a forward pass reads the
 * rows of its tokens, so the table never becomes resident in the process. `RowTable` holds float32
 * rows, `QuantizedRowTable` block-quantized ones.
 */
export interface RowReader {
  readonly path: string;
  readonly rows: number;
  readonly columns: number;
  /** The rows at `indices`, one after another, as float32. */
  gather(indices: readonly number[]): Float32Array;
  close(): void;
}

/**
 * A file of `rows` records of `rowBytes` bytes each, one `pread` per record. Reads are synchronous on
 * purpose: a row is a few KB, usually in the page cache, and a `pread` of it costs microseconds, less
 * than an async round trip.
 */
export class RowFile {
  private fd: number | undefined;

  constructor(
    readonly path: string,
    readonly rows: number,
    readonly rowBytes: number,
    /** What the file holds, for the size error: "a 5×3 float32 table". */
    description: string,
  ) {
    const expected = rows * rowBytes;
    const size = statSync(path).size;
    if (size !== expected) throw new LfmkitError(`expected ${expected} bytes for ${description}, found ${size}`, path);
    this.fd = openSync(path, "r");
  }

  /** Reads row `index` into `into` at `offset`. */
  read(index: number, into: Uint8Array, offset = 0): void {
    if (this.fd === undefined) throw new LfmkitError("the table is closed", this.path);
    if (!Number.isInteger(index) || index < 0 || index >= this.rows) throw new LfmkitError(`row ${index} is outside the table's ${this.rows} rows`, this.path);
    if (readSync(this.fd, into, offset, this.rowBytes, index * this.rowBytes) !== this.rowBytes) throw new LfmkitError(`row ${index} could not be read in full`, this.path);
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}

/** A float32 matrix whose rows are read on request, straight into the result. */
export class RowTable implements RowReader {
  private readonly file: RowFile;

  constructor(
    readonly path: string,
    readonly rows: number,
    readonly columns: number,
  ) {
    this.file = new RowFile(path, rows, columns * 4, `a ${rows}×${columns} float32 table`);
  }

  gather(indices: readonly number[]): Float32Array {
    const out = new Float32Array(indices.length * this.columns);
    const bytes = new Uint8Array(out.buffer);
    indices.forEach((index, i) => this.file.read(index, bytes, i * this.file.rowBytes));
    return out;
  }

  close(): void {
    this.file.close();
  }
}
