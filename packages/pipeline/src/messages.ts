/** The chat API's messages: text, images and audio as parts, validated at the boundary. */
import { z } from "zod";

const bytes = z.custom<Uint8Array>((v) => v instanceof Uint8Array, "expected bytes");

/** An image: a file path, a `data:` URL, or the encoded file's bytes. */
export const imageInputSchema = z.union([z.string().min(1), bytes]);
/** Audio: a WAV file path, a `data:` URL, the WAV file's bytes, or float samples at a rate. */
export const audioInputSchema = z.union([
  z.string().min(1),
  bytes,
  z.object({ samples: z.custom<Float32Array>((v) => v instanceof Float32Array, "expected a Float32Array"), sampleRate: z.number().int().positive() }),
]);

export const messagePartSchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("text"), text: z.string() }),
  z.object({ type: z.literal("image"), image: imageInputSchema }),
  z.object({ type: z.literal("audio"), audio: audioInputSchema }),
]);

export const toolCallSchema = z.object({ name: z.string().min(1), arguments: z.record(z.string(), z.unknown()) });

export const messageSchema = z.object({
  role: z.enum(["system", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(messagePartSchema)]),
  /** An assistant turn's tool calls, written into the prompt as the model writes them. */
  toolCalls: z.array(toolCallSchema).optional(),
});

export type ImageInput = z.infer<typeof imageInputSchema>;
export type AudioInput = z.infer<typeof audioInputSchema>;
export type MessagePart = z.infer<typeof messagePartSchema>;
export type Message = z.infer<typeof messageSchema>;

/** The parts of a kind, in message order. */
export function partsOf<T extends MessagePart["type"]>(messages: readonly Message[], type: T): Extract<MessagePart, { type: T }>[] {
  return messages.flatMap((m) => (typeof m.content === "string" ? [] : m.content.filter((p): p is Extract<MessagePart, { type: T }> => p.type === type)));
}
