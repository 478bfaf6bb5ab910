/** Jobs from a JSONL file, streamed line by line; malformed lines and reused ids become error records. */
import { closeSync, createReadStream, fstatSync, openSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { createInterface } from "node:readline";
import { LfmkitError } from "@lfmkit/core";
import { lineIdFor, parseJobLine, type ChatJob } from "./job-contract.js";
import { errorRecord, type ErrorRecord } from "./result-record.js";
import { describeFsError } from "./fs-errors.js";

/** What a batch works through: jobs to run, and error records that stand in for jobs that could not be read. */
export type Entry = ChatJob | ErrorRecord;

export interface JobSource {
  /** How many entries `entries()` yields. */
  readonly total: number;
  entries(): AsyncIterable<Entry>;
}

export async function jsonlSource(inputPath: string): Promise<JobSource> {
  const path = resolve(inputPath);
  const total = await countNonBlankLines(path);
  return { total, entries: () => uniqueIds(parseLines(path)) };
}

/** Gives each id to one line only: a reused id becomes an error record under its line's id. */
async function* uniqueIds(entries: AsyncIterable<{ entry: Entry; lineNumber: number }>): AsyncGenerator<Entry> {
  const firstLine = new Map<string, number>();
  for await (const { entry, lineNumber } of entries) {
    const earlier = firstLine.get(entry.id);
    if (earlier === undefined) {
      firstLine.set(entry.id, lineNumber);
      yield entry;
      continue;
    }
    // The stand-in id is registered too, so that no later line can take it.
    const standIn = lineIdFor(lineNumber);
    firstLine.set(standIn, lineNumber);
    yield errorRecord(standIn, "duplicate_id", `line ${lineNumber}: the id "${entry.id}" is already used on line ${earlier}`);
  }
}

async function* parseLines(path: string): AsyncGenerator<{ entry: Entry; lineNumber: number }> {
  const baseDir = dirname(path);
  let lineNumber = 0;
  for await (const line of readLines(path)) {
    lineNumber++;
    if (line.trim().length === 0) continue;
    yield { entry: parseJobLine(line, lineNumber, baseDir), lineNumber };
  }
}

async function countNonBlankLines(path: string): Promise<number> {
  let total = 0;
  for await (const line of readLines(path)) if (line.trim().length > 0) total++;
  return total;
}

function readLines(path: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream("", { fd: openInput(path), encoding: "utf8" }), crlfDelay: Infinity });
}

function openInput(path: string): number {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    throw new LfmkitError(`cannot read the input: ${describeFsError(error)}`, path);
  }
  if (fstatSync(fd).isDirectory()) {
    closeSync(fd);
    throw new LfmkitError("cannot read the input: it is a folder", path);
  }
  return fd;
}
