import type { ChatMessage } from "@lfmkit/tokenizer";
import type { Message } from "./messages.js";
import { formatToolCalls } from "./tool-calls.js";

/**
 * Messages as the chat template reads them: media parts become `{ type: "image" }` / `{ type: "audio" }`
 * placeholders, and an assistant turn's tool calls come before its text as the model wrote them.
 */
export function templateMessages(messages: readonly Message[]): ChatMessage[] {
  return messages.map((m) => {
    const calls = m.toolCalls?.length ? formatToolCalls(m.toolCalls) : "";
    if (typeof m.content === "string") return { role: m.role, content: calls + m.content };
    const parts = m.content.map((p) => (p.type === "text" ? p : { type: p.type }));
    return { role: m.role, content: calls ? [{ type: "text", text: calls }, ...parts] : parts };
  });
}
