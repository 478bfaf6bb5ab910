/** Conversations kept in the browser's localStorage: one index entry, one entry per conversation. */

export interface ImageAttachment {
  kind: "image";
  name: string;
  /** A `data:image/...;base64,` URL. */
  url: string;
}

export interface AudioAttachment {
  kind: "audio";
  name: string;
  /** Base64 of a WAV file. */
  data: string;
  seconds?: number;
}

export type Attachment = ImageAttachment | AudioAttachment;

export interface AnswerStats {
  tokensPerSecond?: number;
  timeToFirstTokenMs?: number;
  promptTokens?: number;
  completionTokens?: number;
  promptPerSecond?: number;
  /** Measured in the page (no final chunk with timings arrived, e.g. when stopped). */
  estimated?: boolean;
}

export interface ChatMessage {
  id: string;
  role: "user" | "assistant";
  text: string;
  attachments?: Attachment[];
  /** Assistant answers: how the answer ended. */
  status?: "done" | "stopped" | "error";
  finishReason?: string;
  error?: { message: string; type?: string; param?: string | null; code?: string | null; status?: number };
  stats?: AnswerStats;
  /** Generated speech as base64 PCM16 24 kHz mono (kept in memory only, not stored). */
  speech?: string[];
}

export interface Conversation {
  id: string;
  title: string;
  createdAt: number;
  updatedAt: number;
  messages: ChatMessage[];
}

interface IndexEntry {
  id: string;
  title: string;
  updatedAt: number;
}

const INDEX_KEY = "lfmkit.conversations";
const CONVERSATION_KEY = (id: string) => `lfmkit.conversation.${id}`;
const CURRENT_KEY = "lfmkit.current";

export function newId(): string {
  return typeof crypto.randomUUID === "function" ? crypto.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

function readJson<T>(key: string): T | undefined {
  try {
    const raw = localStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : undefined;
  } catch {
    return undefined;
  }
}

/** What goes to storage: generated speech is dropped (large and replayable only within the session). */
function storable(conversation: Conversation): Conversation {
  return { ...conversation, messages: conversation.messages.map(({ speech: _speech, ...m }) => m) };
}

function withoutMedia(conversation: Conversation): Conversation {
  return {
    ...conversation,
    messages: conversation.messages.map((m) => ({
      ...m,
      attachments: m.attachments?.map((a) => (a.kind === "image" ? { ...a, url: "" } : { ...a, data: "" })),
    })),
  };
}

export class ConversationStore {
  private index: IndexEntry[];

  /** Called with a message for the user when storage is full and attachments could not be kept. */
  onWarning: (message: string) => void = () => undefined;

  constructor() {
    const index = readJson<IndexEntry[]>(INDEX_KEY);
    this.index = Array.isArray(index) ? index.filter((e) => e && typeof e.id === "string") : [];
  }

  /** Newest first. */
  list(): readonly IndexEntry[] {
    return [...this.index].sort((a, b) => b.updatedAt - a.updatedAt);
  }

  load(id: string): Conversation | undefined {
    const conversation = readJson<Conversation>(CONVERSATION_KEY(id));
    return conversation && Array.isArray(conversation.messages) ? conversation : undefined;
  }

  create(): Conversation {
    const now = Date.now();
    return { id: newId(), title: "New chat", createdAt: now, updatedAt: now, messages: [] };
  }

  /** Saves the conversation (an empty one is not listed until it has a message). */
  save(conversation: Conversation): void {
    if (conversation.messages.length === 0) return;
    conversation.updatedAt = Date.now();
    const entry = { id: conversation.id, title: conversation.title, updatedAt: conversation.updatedAt };
    this.index = [entry, ...this.index.filter((e) => e.id !== conversation.id)];
    if (!this.write(CONVERSATION_KEY(conversation.id), storable(conversation))) {
      if (this.write(CONVERSATION_KEY(conversation.id), storable(withoutMedia(conversation)))) {
        this.onWarning("Browser storage is full: this conversation's attachments are not kept after a reload.");
      } else {
        this.onWarning("Browser storage is full: this conversation could not be saved. Delete old conversations to make room.");
      }
    }
    this.write(INDEX_KEY, this.index);
  }

  delete(id: string): void {
    this.index = this.index.filter((e) => e.id !== id);
    localStorage.removeItem(CONVERSATION_KEY(id));
    this.write(INDEX_KEY, this.index);
    if (this.current() === id) localStorage.removeItem(CURRENT_KEY);
  }

  current(): string | undefined {
    return localStorage.getItem(CURRENT_KEY) ?? undefined;
  }

  setCurrent(id: string): void {
    try {
      localStorage.setItem(CURRENT_KEY, id);
    } catch {
      // storage full: the current conversation is just not remembered
    }
  }

  private write(key: string, value: unknown): boolean {
    try {
      localStorage.setItem(key, JSON.stringify(value));
      return true;
    } catch {
      return false;
    }
  }
}

/** A conversation's title from its first question. */
export function titleFrom(text: string, attachments: readonly Attachment[] = []): string {
  const line = text.trim().split("\n")[0] ?? "";
  if (line) return line.length > 48 ? `${line.slice(0, 47)}…` : line;
  const first = attachments[0];
  return first ? first.name : "New chat";
}
