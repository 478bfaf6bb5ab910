/** The message list: user questions with their attachments, assistant answers as markdown with stats and actions. */
import { attachmentPreview } from "./attachments.js";
import { h, present } from "./dom.js";
import { copyText, renderInto } from "./markdown.js";
import type { AnswerStats, ChatMessage } from "./store.js";

export interface MessageActions {
  regenerate(message: ChatMessage): void;
  playSpeech(message: ChatMessage): void;
}

export class ChatView {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly rendered = new Map<string, { element: HTMLElement; frame?: number }>();
  private streamingId?: string;

  constructor(private readonly actions: MessageActions) {
    this.list = h("div", { class: "messages", "data-testid": "messages", role: "log", "aria-live": "polite", "aria-label": "Conversation" });
    this.empty = h(
      "div",
      { class: "empty" },
      h("h2", {}, "Ask the model something"),
      h("p", {}, "Type a question below. Attach an image with the button, drop one anywhere on the page, or paste it. Audio: upload a WAV or record one, if the model takes audio."),
    );
    this.element = h("div", { class: "scroller" }, this.empty, this.list);
  }

  /** Shows a whole conversation. */
  show(messages: readonly ChatMessage[], streamingId?: string): void {
    for (const { frame } of this.rendered.values()) if (frame) cancelAnimationFrame(frame);
    this.rendered.clear();
    this.streamingId = streamingId;
    this.list.replaceChildren(...messages.map((m) => this.build(m)));
    this.empty.hidden = messages.length > 0;
    this.scrollToEnd(true);
  }

  append(message: ChatMessage, streaming = false): void {
    if (streaming) this.streamingId = message.id;
    this.list.append(this.build(message));
    this.empty.hidden = true;
    this.scrollToEnd(true);
  }

  /** Redraws one message; while streaming, at most once per animation frame. */
  update(message: ChatMessage, streaming = false): void {
    const entry = this.rendered.get(message.id);
    if (!entry) return;
    if (streaming) {
      this.streamingId = message.id;
      entry.frame ??= requestAnimationFrame(() => {
        entry.frame = undefined;
        this.fill(entry.element, message);
      });
      return;
    }
    if (entry.frame) cancelAnimationFrame(entry.frame);
    entry.frame = undefined;
    if (this.streamingId === message.id) this.streamingId = undefined;
    this.fill(entry.element, message);
  }

  private build(message: ChatMessage): HTMLElement {
    const element = h("article", { class: `msg msg-${message.role}`, "data-id": message.id, "data-testid": message.role === "user" ? "user-message" : "assistant-message" });
    this.rendered.set(message.id, { element });
    this.fill(element, message);
    return element;
  }

  private fill(element: HTMLElement, message: ChatMessage): void {
    const nearEnd = this.nearEnd();
    if (message.role === "user") {
      element.replaceChildren(
        ...present(message.attachments?.length ? h("div", { class: "msg-attachments" }, ...message.attachments.map((a) => attachmentPreview(a))) : null,
        message.text ? h("div", { class: "msg-text", "data-testid": "question-text" }, message.text) : null),
      );
      return;
    }
    const streaming = this.streamingId === message.id;
    const status = streaming ? "streaming" : (message.status ?? "done");
    element.dataset.status = status;
    element.setAttribute("aria-busy", String(streaming));
    const body = h("div", { class: "markdown", "data-testid": "answer-text" });
    renderInto(body, message.text);
    const error = message.error
      ? h(
          "div",
          { class: "answer-error", role: "alert", "data-testid": "answer-error" },
          h("strong", {}, "Error: "),
          message.error.message,
          errorDetail(message.error),
        )
      : null;
    const footer = streaming
      ? h("footer", { class: "msg-footer" }, h("span", { class: "stats muted" }, "generating…"))
      : h(
          "footer",
          { class: "msg-footer" },
          h("span", { class: "stats", "data-testid": "answer-stats" }, describe(message)),
          message.speech?.length
            ? h("button", { type: "button", class: "small", "aria-label": "Play speech", "data-testid": "play-speech", onClick: () => this.actions.playSpeech(message) }, "▶ Play")
            : null,
          message.text
            ? h("button", {
                type: "button",
                class: "small",
                "aria-label": "Copy answer",
                "data-testid": "copy-answer",
                onClick: (event: MouseEvent) => {
                  const button = event.currentTarget as HTMLButtonElement;
                  void copyText(message.text).then((ok) => {
                    button.textContent = ok ? "Copied" : "Copy failed";
                    setTimeout(() => (button.textContent = "Copy"), 1500);
                  });
                },
              }, "Copy")
            : null,
          h("button", { type: "button", class: "small", "aria-label": "Regenerate answer", "data-testid": "regenerate", onClick: () => this.actions.regenerate(message) }, "Regenerate"),
        );
    element.replaceChildren(body, error ?? "", footer);
    if (nearEnd) this.scrollToEnd(true);
  }

  private nearEnd(): boolean {
    const scroller = this.element;
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  private scrollToEnd(force: boolean): void {
    if (force || this.nearEnd()) this.element.scrollTop = this.element.scrollHeight;
  }
}

function describe(message: ChatMessage): string {
  const parts: string[] = [];
  if (message.status === "stopped") parts.push("stopped");
  if (message.finishReason === "length") parts.push("max tokens reached");
  const stats: AnswerStats | undefined = message.stats;
  if (stats) {
    const approx = stats.estimated ? "~" : "";
    if (stats.tokensPerSecond !== undefined && Number.isFinite(stats.tokensPerSecond)) parts.push(`${approx}${stats.tokensPerSecond.toFixed(1)} tok/s`);
    if (stats.timeToFirstTokenMs !== undefined) parts.push(`TTFT ${approx}${Math.round(stats.timeToFirstTokenMs)} ms`);
    if (stats.completionTokens !== undefined) parts.push(`${approx}${stats.completionTokens} tokens`);
    if (stats.promptTokens !== undefined) parts.push(`prompt ${stats.promptTokens}`);
  }
  return parts.join(" · ");
}

function errorDetail(error: NonNullable<ChatMessage["error"]>): HTMLElement | null {
  const parts = [error.status && error.status >= 400 ? `HTTP ${error.status}` : undefined, error.type, error.param ? `param: ${error.param}` : undefined, error.code ? `code: ${error.code}` : undefined];
  const detail = parts.filter(Boolean).join(", ");
  return detail ? h("small", {}, ` (${detail})`) : null;
}
