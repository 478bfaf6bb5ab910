/** One batch, local or queued: the output opened for resuming, the jobs run, the summary returned. */
import { loadModel } from "@lfmkit/pipeline";
import type { RunArgs } from "./cli-options.js";
import { DEFAULT_ATTEMPTS } from "./distributed/queued-job.js";
import { RedisLink } from "./distributed/redis-link.js";
import { submitAndCollect } from "./distributed/submit.js";
import type { JobSource } from "./job-source.js";
import { runLocally } from "./local-run.js";
import type { Summary } from "./progress.js";
import { ResultsFile } from "./results-file.js";

export async function runBatch(source: JobSource, args: RunArgs, notice: (line: string) => void): Promise<Summary> {
  const link = args.queue === undefined ? undefined : new RedisLink(args.queue, args.redisRetry);
  const results = await ResultsFile.open(args.output);
  if (results.droppedBytes > 0) notice(`dropped the unfinished last line of ${args.output} (${results.droppedBytes} bytes, left by an interrupted run)`);
  try {
    if (link) return await submitAndCollect(source, results, link, { queueName: args.queueName, attempts: args.attempts ?? DEFAULT_ATTEMPTS });
    const model = await loadModel(args.model!, { codec: args.codec, weightFormat: args.weightFormat, threads: args.threads, cacheDir: args.cacheDir });
    try {
      return await runLocally(source, results, model, args.concurrency ?? 1);
    } finally {
      await model.dispose();
    }
  } finally {
    results.close();
  }
}
