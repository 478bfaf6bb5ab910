/** A batch on this machine: the jobs run on one loaded model, `concurrency` at a time. */
import type { ChatModel } from "@lfmkit/pipeline";
import type { JobSource } from "./job-source.js";
import type { ChatJob } from "./job-contract.js";
import { Progress, type Summary } from "./progress.js";
import { errorRecord, isErrorRecord, type ResultRecord } from "./result-record.js";
import type { ResultsFile } from "./results-file.js";
import { runJob } from "./run-job.js";

export async function runLocally(source: JobSource, results: ResultsFile, model: ChatModel, concurrency: number): Promise<Summary> {
  const progress = new Progress(source.total, results.path);
  // The lanes share one iterator: an async generator hands each entry to exactly one `next()`.
  const entries = source.entries()[Symbol.asyncIterator]();
  const lane = async () => {
    for (let next = await entries.next(); !next.done; next = await entries.next()) {
      const entry = next.value;
      if (results.doneIds.has(entry.id)) {
        progress.skip();
        continue;
      }
      const record = isErrorRecord(entry) ? entry : await runJobOnce(model, entry, audioDirFor(results.path));
      results.append(record);
      progress.record(record);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return progress.finish();
}

/** A local run has no other attempt to give a job: an unexpected failure is its record. */
async function runJobOnce(model: ChatModel, job: ChatJob, audioDir: string): Promise<ResultRecord> {
  try {
    return await runJob(model, job, audioDir);
  } catch (error) {
    return errorRecord(job.id, "internal_error", (error as Error).message.split("\n")[0]);
  }
}

/** Speech answers of a local run go beside its output: `results.jsonl` → `results-audio/`. */
function audioDirFor(output: string): string {
  return `${output.replace(/\.jsonl?$/i, "")}-audio`;
}
