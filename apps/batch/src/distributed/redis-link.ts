/**
 * The Redis behind a queue: BullMQ's connection settings for a redis:// URL, with reconnects retried
 * for a while and then given up as one clear error (`lost`), instead of BullMQ's default of retrying
 * forever — a batch or worker with no Redis should say so and exit, not hang.
 */
import type { EventEmitter } from "node:events";
import { LfmkitError } from "@lfmkit/core";
import type { RedisOptions } from "bullmq";

const CONNECT_TIMEOUT_MS = 5000;
const MAX_RETRY_DELAY_MS = 2000;

export class RedisLink {
  readonly connection: RedisOptions;
  /** Rejects once Redis has been unreachable for longer than the retry budget. */
  readonly lost: Promise<never>;
  /** The redis:// URL without its password, for messages. */
  readonly shownUrl: string;
  private lastError = "no answer";
  private outageStarted = 0;
  private giveUp!: (error: LfmkitError) => void;

  constructor(url: string, retrySeconds: number) {
    this.shownUrl = shownUrl(url);
    this.lost = new Promise<never>((_, reject) => (this.giveUp = reject));
    this.lost.catch(() => {}); // observed by whoever races it; never an unhandled rejection
    this.connection = {
      url,
      connectTimeout: Math.min(CONNECT_TIMEOUT_MS, retrySeconds * 1000),
      // Commands wait for a reconnect rather than fail one by one; giving up (below) fails them all at once.
      maxRetriesPerRequest: null,
      // ioredis restarts `attempt` at 1 after each successful connection, so attempt 1 starts an outage.
      retryStrategy: (attempt: number) => {
        if (attempt === 1) this.outageStarted = Date.now();
        if (Date.now() - this.outageStarted < retrySeconds * 1000) return Math.min(attempt * 250, MAX_RETRY_DELAY_MS);
        this.giveUp(new LfmkitError(`Redis is unreachable (gave up after retrying for ${retrySeconds} s: ${this.lastError})`, this.shownUrl));
        return null;
      },
    };
  }

  /** Keeps the connection errors of a BullMQ object for the final message (and handles its 'error' events). */
  watch(emitter: EventEmitter): void {
    emitter.on("error", (error: Error) => {
      this.lastError = error.message.split("\n")[0] || error.name;
    });
  }

  /** Resolves with `work`, or rejects with the connection failure when Redis is lost first. */
  async race<T>(work: Promise<T>): Promise<T> {
    return Promise.race([work, this.lost]);
  }
}

function shownUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LfmkitError("--queue must be a redis:// or rediss:// URL", url);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") throw new LfmkitError("--queue must be a redis:// or rediss:// URL", url);
  parsed.password = "";
  return parsed.toString();
}
