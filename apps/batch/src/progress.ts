/** Progress while a batch runs (a bar on a terminal, a line every few seconds otherwise) and its summary. */
import { Presets, SingleBar } from "cli-progress";
import { isErrorRecord, type ResultRecord } from "./result-record.js";

export interface Summary {
  done: number;
  failed: number;
  skipped: number;
  /** Distributed runs: attempts beyond each job's first (a killed worker's job, a worker error). */
  retries: number;
  seconds: number;
  completion_tokens: number;
  tokens_per_second: number;
  output: string;
}

const PLAIN_INTERVAL_MS = 5000;

export class Progress {
  private done = 0;
  private failed = 0;
  private skipped = 0;
  private retries = 0;
  private completionTokens = 0;
  private readonly started = performance.now();
  private readonly bar: SingleBar | undefined;
  private readonly ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly total: number,
    private readonly output: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    if (stream.isTTY) {
      this.bar = new SingleBar(
        { stream, format: "{bar} {value}/{total} | {failed} failed | {tokensPerSecond} tokens/s | ETA {eta_formatted}", hideCursor: true },
        Presets.shades_classic,
      );
      this.bar.start(total, 0, this.payload());
    } else {
      this.ticker = setInterval(() => this.printLine(), PLAIN_INTERVAL_MS).unref();
    }
  }

  skip(): void {
    this.skipped++;
    this.changed();
  }

  record(record: ResultRecord): void {
    if (isErrorRecord(record)) this.failed++;
    else {
      this.done++;
      this.completionTokens += record.usage.completionTokens;
    }
    this.changed();
  }

  addRetries(count: number): void {
    this.retries += count;
  }

  finish(): Summary {
    this.bar?.stop();
    clearInterval(this.ticker);
    const seconds = this.elapsedSeconds();
    return {
      done: this.done,
      failed: this.failed,
      skipped: this.skipped,
      retries: this.retries,
      seconds: round(seconds, 2),
      completion_tokens: this.completionTokens,
      tokens_per_second: round(this.tokensPerSecond(), 1),
      output: this.output,
    };
  }

  private changed(): void {
    this.bar?.update(this.finished(), this.payload());
  }

  private printLine(): void {
    const ran = this.done + this.failed;
    const remaining = this.total - this.finished();
    const eta = ran > 0 ? formatSeconds((remaining * this.elapsedSeconds()) / ran) : "unknown";
    this.stream.write(`batch: ${this.finished()}/${this.total} (${this.failed} failed, ${this.skipped} skipped), ${this.payload().tokensPerSecond} tokens/s, ETA ${eta}\n`);
  }

  private payload() {
    return { failed: this.failed, tokensPerSecond: this.tokensPerSecond().toFixed(1) };
  }

  private finished(): number {
    return this.done + this.failed + this.skipped;
  }

  private tokensPerSecond(): number {
    const seconds = this.elapsedSeconds();
    return seconds > 0 ? this.completionTokens / seconds : 0;
  }

  private elapsedSeconds(): number {
    return (performance.now() - this.started) / 1000;
  }
}

export function formatSummary(summary: Summary): string {
  const counts = `done ${summary.done}, failed ${summary.failed}, skipped ${summary.skipped}, retries ${summary.retries}`;
  return `${counts} in ${formatSeconds(summary.seconds)}, ${summary.tokens_per_second} tokens/s → ${summary.output}`;
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${String(Math.round(seconds % 60)).padStart(2, "0")} s`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min`;
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
