/** The sidebar: a "New chat" button and the stored conversations, newest first, each with a delete button. */
import { h } from "./dom.js";
import type { ConversationStore } from "./store.js";

export interface ConversationActions {
  open(id: string): void;
  create(): void;
  remove(id: string): void;
}

export class ConversationList {
  readonly element: HTMLElement;
  private readonly list: HTMLElement;

  constructor(
    private readonly store: ConversationStore,
    private readonly actions: ConversationActions,
  ) {
    this.list = h("ul", { class: "conversation-list", "data-testid": "conversation-list" });
    this.element = h(
      "nav",
      { class: "conversations", "aria-label": "Conversations" },
      h("button", { type: "button", class: "new-chat", "aria-label": "New chat", "data-testid": "new-chat", onClick: () => this.actions.create() }, "+ New chat"),
      this.list,
    );
  }

  render(currentId: string): void {
    const entries = this.store.list();
    this.list.replaceChildren(
      ...entries.map((entry) =>
        h(
          "li",
          { class: entry.id === currentId ? "current" : undefined, "data-testid": "conversation", "data-id": entry.id },
          h(
            "button",
            { type: "button", class: "open", "aria-current": entry.id === currentId ? "page" : undefined, title: entry.title, onClick: () => this.actions.open(entry.id) },
            h("span", { class: "title" }, entry.title),
            h("time", { datetime: new Date(entry.updatedAt).toISOString() }, when(entry.updatedAt)),
          ),
          h("button", { type: "button", class: "delete", "aria-label": `Delete conversation “${entry.title}”`, "data-testid": "delete-conversation", onClick: () => this.actions.remove(entry.id) }, "×"),
        ),
      ),
    );
    if (entries.length === 0) this.list.append(h("li", { class: "none" }, "No conversations yet"));
  }
}

function when(time: number): string {
  const date = new Date(time);
  return date.toDateString() === new Date().toDateString()
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString([], { month: "short", day: "numeric" });
}
