/** The page: layout, the loaded model, the current conversation, and sending / streaming / stopping answers. */
import { ApiError, listModels, setApiKey, streamChat, type ChatChunk, type ChatRequest, type ContentPart, type ModelInfo, type RequestMessage } from "./api.js";
import { AttachmentTray } from "./attachments.js";
import { ChatView } from "./chat-view.js";
import { ConversationList } from "./conversation-list.js";
import { h, present } from "./dom.js";
import { PcmPlayer } from "./player.js";
import { SettingsPanel } from "./settings.js";
import { ConversationStore, newId, titleFrom, type ChatMessage, type Conversation } from "./store.js";

type State = "loading" | "idle" | "streaming" | "unavailable";

export class App {
  private readonly store = new ConversationStore();
  private readonly settings = new SettingsPanel();
  private readonly tray = new AttachmentTray();
  private readonly player = new PcmPlayer();
  private readonly view: ChatView;
  private readonly conversations: ConversationList;
  private readonly prompt: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly stopButton: HTMLButtonElement;
  private readonly modelName: HTMLElement;
  private readonly badges: HTMLElement;
  private readonly notice: HTMLElement;
  private model?: ModelInfo;
  private conversation: Conversation;
  private controller?: AbortController;
  private noticeTimer?: number;

  constructor(private readonly root: HTMLElement) {
    this.view = new ChatView({ regenerate: (m) => this.regenerate(m), playSpeech: (m) => m.speech && this.player.replay(m.speech) });
    this.conversations = new ConversationList(this.store, {
      open: (id) => this.open(id),
      create: () => this.newConversation(),
      remove: (id) => this.remove(id),
    });
    this.store.onWarning = (message) => this.showNotice(message);
    setApiKey(this.settings.apiKeyValue);
    this.settings.onApiKey = (key) => {
      setApiKey(key);
      if (this.root.dataset.state === "unavailable") void this.start();
    };
    this.tray.onError = (message) => this.showNotice(message);
    this.tray.onChange = () => this.refreshControls();

    this.prompt = h("textarea", {
      id: "prompt",
      rows: 1,
      placeholder: "Message the model…  (Enter sends, Shift+Enter for a new line)",
      "aria-label": "Message",
      "data-testid": "prompt",
      onInput: () => {
        this.autosize();
        this.refreshControls();
      },
      onKeydown: (event: KeyboardEvent) => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
          event.preventDefault();
          void this.send();
        }
      },
    });
    this.sendButton = h("button", { type: "submit", class: "primary", "aria-label": "Send", "data-testid": "send" }, "Send");
    this.stopButton = h("button", { type: "button", class: "danger", "aria-label": "Stop generating", title: "Stop (Esc)", "data-testid": "stop", hidden: true, onClick: () => this.stop() }, "Stop");
    this.modelName = h("span", { class: "model-name", "data-testid": "model-name" }, "connecting…");
    this.badges = h("span", { class: "badges" });
    this.notice = h("div", { class: "notice", role: "status", "aria-live": "polite", "data-testid": "notice", hidden: true });

    const composer = h(
      "form",
      { class: "composer", "aria-label": "Ask", onSubmit: (event: SubmitEvent) => (event.preventDefault(), void this.send()) },
      this.tray.element,
      h("div", { class: "composer-row" }, this.tray.controls, this.prompt, this.sendButton, this.stopButton),
    );
    const toggle = (label: string, panel: string) =>
      h("button", {
        type: "button",
        class: "panel-toggle",
        "aria-label": label,
        onClick: () => this.root.classList.toggle(`show-${panel}`),
      }, label);

    this.root.replaceChildren(
      h(
        "header",
        { class: "topbar" },
        toggle("Conversations", "sidebar"),
        h("h1", {}, "lfmkit playground"),
        this.modelName,
        this.badges,
        h("span", { class: "spacer" }),
        toggle("Settings", "settings"),
      ),
      h("aside", { class: "sidebar", "aria-label": "Conversations" }, this.conversations.element),
      h("main", { class: "chat" }, this.view.element, this.notice, composer),
      h("aside", { class: "settings-panel", "aria-label": "Settings panel" }, this.settings.element),
      h("div", { class: "drop-overlay", "aria-hidden": "true" }, "Drop images or audio to attach"),
    );
    this.tray.listen(this.root);
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.streaming) this.stop();
    });

    const current = this.store.current();
    this.conversation = (current && this.store.load(current)) || this.store.create();
    this.view.show(this.conversation.messages);
    this.conversations.render(this.conversation.id);
    this.setState("loading");
  }

  async start(): Promise<void> {
    try {
      const models = await listModels();
      this.model = models[0];
      if (!this.model) throw new Error("the server has no model loaded");
    } catch (error) {
      this.modelName.textContent = "unavailable";
      const needsKey = error instanceof ApiError && error.status === 401;
      this.showNotice(needsKey ? `${error.message}: enter it under Settings → API key.` : `Could not reach the server: ${messageOf(error)}`, { sticky: true, retry: () => void this.start() });
      this.setState("unavailable");
      return;
    }
    this.hideNotice();
    const { capabilities } = this.model;
    this.modelName.textContent = this.model.id;
    this.modelName.title = this.model.id;
    this.badges.replaceChildren(
      ...(["image_input", "audio_input", "audio_output"] as const).map((key) =>
        h("span", { class: `badge ${capabilities[key] ? "on" : "off"}`, title: capabilities[key] ? "supported" : "not supported by this model" }, { image_input: "images", audio_input: "audio in", audio_output: "speech out" }[key]),
      ),
    );
    this.tray.setCapabilities(capabilities);
    this.settings.setAudioOutput(capabilities.audio_output);
    this.setState("idle");
    this.prompt.focus();
  }

  private setState(state: State): void {
    this.root.dataset.state = state;
    this.refreshControls();
  }

  private get streaming(): boolean {
    return this.controller !== undefined;
  }

  private refreshControls(): void {
    const ready = this.root.dataset.state === "idle";
    const hasInput = this.prompt.value.trim() !== "" || this.tray.attachments.length > 0;
    this.sendButton.disabled = !ready || !hasInput || this.tray.pending;
    this.sendButton.hidden = this.streaming;
    this.stopButton.hidden = !this.streaming;
    this.tray.setBusy(this.streaming);
  }

  private autosize(): void {
    this.prompt.style.height = "auto";
    this.prompt.style.height = `${Math.min(this.prompt.scrollHeight, 240)}px`;
  }

  private async send(): Promise<void> {
    if (this.root.dataset.state !== "idle" || this.tray.pending) return;
    const text = this.prompt.value.trim();
    const attachments = [...this.tray.attachments];
    if (!text && attachments.length === 0) return;
    const settings = this.settings.read();
    if (settings.errors.length > 0) {
      this.showNotice(settings.errors.join(" "));
      return;
    }
    const question: ChatMessage = { id: newId(), role: "user", text, attachments: attachments.length ? attachments : undefined };
    if (this.conversation.messages.length === 0) this.conversation.title = titleFrom(text, attachments);
    this.conversation.messages.push(question);
    this.prompt.value = "";
    this.autosize();
    this.tray.clear();
    this.view.append(question);
    await this.answer();
  }

  private regenerate(message: ChatMessage): void {
    if (this.streaming) return;
    const index = this.conversation.messages.findIndex((m) => m.id === message.id);
    if (index < 0) return;
    this.conversation.messages.splice(index);
    this.view.show(this.conversation.messages);
    void this.answer();
  }

  /** Streams the answer to the conversation as it stands (its last message is the question). */
  private async answer(): Promise<void> {
    const model = this.model;
    if (!model) return;
    const conversation = this.conversation;
    const settings = this.settings.read();
    const request: ChatRequest = { model: model.id, messages: requestMessages(conversation.messages, settings.system), ...settings.sampling };
    if (settings.speak) {
      request.modalities = ["text", "audio"];
      request.audio = { format: "pcm16" };
      this.player.stop();
      this.player.unlock();
    }
    const answer: ChatMessage = { id: newId(), role: "assistant", text: "" };
    conversation.messages.push(answer);
    this.store.save(conversation);
    this.conversations.render(conversation.id);
    this.view.append(answer, true);

    const controller = new AbortController();
    this.controller = controller;
    this.setState("streaming");
    this.hideNotice();

    const started = performance.now();
    let firstAt: number | undefined;
    let lastAt = started;
    let pieces = 0;
    let sawContent = false;
    let final: ChatChunk | undefined;
    const onChunk = (chunk: ChatChunk) => {
      const choice = chunk.choices?.[0];
      const delta = choice?.delta;
      let piece = "";
      if (typeof delta?.content === "string" && delta.content) {
        piece = delta.content;
        sawContent = true;
      } else if (!sawContent && delta?.audio?.transcript) {
        piece = delta.audio.transcript;
      }
      if (delta?.audio?.data) {
        (answer.speech ??= []).push(delta.audio.data);
        if (settings.speak) this.player.enqueue(delta.audio.data);
      }
      if (piece) {
        firstAt ??= performance.now();
        lastAt = performance.now();
        pieces++;
        answer.text += piece;
        this.view.update(answer, true);
      }
      if (choice?.finish_reason) answer.finishReason = choice.finish_reason;
      if (chunk.usage || chunk.timings) final = chunk;
    };

    try {
      await streamChat(request, onChunk, controller.signal);
      answer.status = "done";
    } catch (error) {
      if (controller.signal.aborted) {
        answer.status = "stopped";
      } else {
        answer.status = "error";
        answer.error =
          error instanceof ApiError
            ? { message: error.message, type: error.type, param: error.param, code: error.code, status: error.status }
            : { message: `The request failed: ${messageOf(error)}` };
      }
    }
    if (final?.timings || final?.usage) {
      const t = final.timings ?? {};
      answer.stats = {
        tokensPerSecond: t.predicted_per_second,
        timeToFirstTokenMs: t.time_to_first_token_ms ?? final.time_to_first_token_ms,
        promptTokens: final.usage?.prompt_tokens ?? t.prompt_n,
        completionTokens: final.usage?.completion_tokens ?? t.predicted_n,
        promptPerSecond: t.prompt_per_second,
      };
    } else if (firstAt !== undefined) {
      // No final chunk (stopped, or a server without timings): what the page measured.
      answer.stats = {
        estimated: true,
        timeToFirstTokenMs: firstAt - started,
        completionTokens: pieces,
        tokensPerSecond: pieces > 1 ? (pieces - 1) / ((lastAt - firstAt) / 1000) : undefined,
      };
    }
    this.controller = undefined;
    if (this.conversation === conversation) this.view.update(answer);
    this.store.save(conversation);
    this.conversations.render(this.conversation.id);
    this.setState(this.model ? "idle" : "unavailable");
    if (this.conversation === conversation) this.prompt.focus();
  }

  private stop(): void {
    this.controller?.abort();
    this.player.stop();
  }

  private open(id: string): void {
    if (id === this.conversation.id) return;
    const conversation = this.store.load(id);
    if (!conversation) {
      this.showNotice("That conversation could not be read from browser storage.");
      this.store.delete(id);
      this.conversations.render(this.conversation.id);
      return;
    }
    this.stop();
    this.conversation = conversation;
    this.store.setCurrent(id);
    this.view.show(conversation.messages);
    this.conversations.render(id);
    this.root.classList.remove("show-sidebar");
  }

  private newConversation(): void {
    this.stop();
    this.conversation = this.store.create();
    this.store.setCurrent(this.conversation.id);
    this.view.show([]);
    this.conversations.render(this.conversation.id);
    this.root.classList.remove("show-sidebar");
    this.prompt.focus();
  }

  private remove(id: string): void {
    if (id === this.conversation.id) {
      this.stop();
      this.store.delete(id);
      this.newConversation();
    } else {
      this.store.delete(id);
      this.conversations.render(this.conversation.id);
    }
  }

  private showNotice(message: string, options: { sticky?: boolean; retry?: () => void } = {}): void {
    window.clearTimeout(this.noticeTimer);
    this.notice.replaceChildren(
      ...present(h("span", {}, message),
      options.retry ? h("button", { type: "button", class: "small", onClick: options.retry }, "Retry") : null,
      h("button", { type: "button", class: "small", "aria-label": "Dismiss", onClick: () => this.hideNotice() }, "×")),
    );
    this.notice.hidden = false;
    if (!options.sticky) this.noticeTimer = window.setTimeout(() => this.hideNotice(), 8000);
  }

  private hideNotice(): void {
    this.notice.hidden = true;
  }
}

/** The conversation as the chat API takes it; failed answers and the questions they answered are left out. */
export function requestMessages(messages: readonly ChatMessage[], system: string): RequestMessage[] {
  const out: RequestMessage[] = system ? [{ role: "system", content: system }] : [];
  messages.forEach((message, i) => {
    const next = messages[i + 1];
    if (message.role === "user" && next?.role === "assistant" && next.status === "error") return;
    if (message.role === "assistant") {
      if (message.status === "error" || (i === messages.length - 1 && !message.text)) return;
      out.push({ role: "assistant", content: message.text });
      return;
    }
    const attachments = (message.attachments ?? []).filter((a) => (a.kind === "image" ? a.url : a.data));
    if (attachments.length === 0) {
      out.push({ role: "user", content: message.text });
      return;
    }
    const parts: ContentPart[] = attachments.map((a) =>
      a.kind === "image" ? { type: "image_url", image_url: { url: a.url } } : { type: "input_audio", input_audio: { data: a.data, format: "wav" } },
    );
    if (message.text) parts.push({ type: "text", text: message.text });
    out.push({ role: "user", content: parts });
  });
  return out;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
