/**
 * The output JSONL, written so that a run killed at any moment can be resumed: each record is one
 * `write` of a whole line followed by `fdatasync`, so a finished record is on disk before the next
 * job's result is taken; a kill in the middle of a write can only leave an unterminated last line,
 * which `open` drops (the job runs again). Ids already in the file are the jobs a resumed run skips.
 */
import { closeSync, createReadStream, fdatasyncSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { LfmkitError } from "@lfmkit/core";
import { describeFsError } from "./fs-errors.js";
import type { ResultRecord } from "./result-record.js";

const NEWLINE = 0x0a;

export class ResultsFile {
  private constructor(
    readonly path: string,
    private readonly fd: number,
    /** Ids that have a record, from earlier runs and this one. */
    readonly doneIds: Set<string>,
    /** Bytes of an unterminated last line that `open` dropped (0: none). */
    readonly droppedBytes: number,
  ) {}

  static async open(path: string): Promise<ResultsFile> {
    let fd: number;
    try {
      fd = openSync(path, "a+");
    } catch (error) {
      throw new LfmkitError(`cannot write the output: ${describeFsError(error)}`, path);
    }
    const size = fstatSync(fd).size;
    const complete = endOfLastLine(fd, size);
    if (complete < size) ftruncateSync(fd, complete);
    const doneIds = complete > 0 ? await readIds(path, complete) : new Set<string>();
    return new ResultsFile(path, fd, doneIds, size - complete);
  }

  append(record: ResultRecord): void {
    const line = Buffer.from(`${JSON.stringify(record)}\n`);
    for (let written = 0; written < line.length; ) written += writeSync(this.fd, line, written);
    fdatasyncSync(this.fd);
    this.doneIds.add(record.id);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** The byte offset just past the last newline (0 when there is none). */
function endOfLastLine(fd: number, size: number): number {
  const chunk = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0; end -= chunk.length) {
    const start = Math.max(0, end - chunk.length);
    const read = readSync(fd, chunk, 0, end - start, start);
    const newline = chunk.subarray(0, read).lastIndexOf(NEWLINE);
    if (newline >= 0) return start + newline + 1;
  }
  return 0;
}

async function readIds(path: string, length: number): Promise<Set<string>> {
  const ids = new Set<string>();
  const lines = createInterface({ input: createReadStream(path, { end: length - 1, encoding: "utf8" }), crlfDelay: Infinity });
  let lineNumber = 0;
  for await (const line of lines) {
    lineNumber++;
    if (line.trim().length === 0) continue;
    const id = recordId(line);
    if (id === undefined) throw new LfmkitError(`line ${lineNumber} is not a result record (is this the output of another run or tool?)`, path);
    ids.add(id);
  }
  return ids;
}

function recordId(line: string): string | undefined {
  try {
    const id = (JSON.parse(line) as { id?: unknown } | null)?.id;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}
