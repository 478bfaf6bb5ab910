/** Counters the server exposes at /metrics, in Prometheus' text format. */
export class Metrics {
  private readonly requests = new Map<string, number>();
  promptTokens = 0;
  cachedPromptTokens = 0;
  completionTokens = 0;
  cancellations = 0;
  /** Requests received and not yet answered in full (waiting for the model or generating). */
  inFlight = 0;
  private firstTokenSeconds = { sum: 0, count: 0 };

  request(route: string, status: number): void {
    const key = `route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  timeToFirstToken(ms: number): void {
    this.firstTokenSeconds.sum += ms / 1000;
    this.firstTokenSeconds.count++;
  }

  render(keptBytes: number): string {
    const lines = [
      "# HELP lfmkit_requests_total Requests answered, by route and status.",
      "# TYPE lfmkit_requests_total counter",
      ...[...this.requests].map(([labels, n]) => `lfmkit_requests_total{${labels}} ${n}`),
      ...counter("lfmkit_prompt_tokens_total", "Prompt tokens of completed generations.", this.promptTokens),
      ...counter("lfmkit_prompt_tokens_cached_total", "Prompt tokens resumed from a kept prefix instead of prefilled.", this.cachedPromptTokens),
      ...counter("lfmkit_completion_tokens_total", "Tokens generated.", this.completionTokens),
      ...counter("lfmkit_cancellations_total", "Generations stopped because the client went away or aborted.", this.cancellations),
      "# HELP lfmkit_queue_depth Requests in flight: waiting for the model or generating.",
      "# TYPE lfmkit_queue_depth gauge",
      `lfmkit_queue_depth ${this.inFlight}`,
      "# HELP lfmkit_kept_state_bytes Decoder state kept for prefix reuse (bounded by the prefix cache budget).",
      "# TYPE lfmkit_kept_state_bytes gauge",
      `lfmkit_kept_state_bytes ${keptBytes}`,
      "# HELP lfmkit_time_to_first_token_seconds Time from a request's arrival to its first token.",
      "# TYPE lfmkit_time_to_first_token_seconds summary",
      `lfmkit_time_to_first_token_seconds_sum ${this.firstTokenSeconds.sum}`,
      `lfmkit_time_to_first_token_seconds_count ${this.firstTokenSeconds.count}`,
    ];
    return `${lines.join("\n")}\n`;
  }
}

function counter(name: string, help: string, value: number): string[] {
  return [`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${value}`];
}
