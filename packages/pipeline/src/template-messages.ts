import type { ChatMessage } from "@lfmkit/tokenizer";
import type { Message } from "./messages.js";

/** Messages as the chat template reads them: media parts become `{ type: "image" }` / `{ type: "audio" }` placeholders. */
export function templateMessages(messages: readonly Message[]): ChatMessage[] {
  return messages.map((m) => ({
    role: m.role,
    content: typeof m.content === "string" ? m.content : m.content.map((p) => (p.type === "text" ? p : { type: p.type })),
  }));
}
