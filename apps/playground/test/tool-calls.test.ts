/**
 * Tool calls over HTTP: the server on a model whose output is scripted in LFM2's real call format
 * (through the real token stream and call parser), answering OpenAI tool requests.
 */
import { join } from "node:path";
import { repoRoot } from "@lfmkit/testing";
import { TOOL_CALL_END, TOOL_CALL_START, ToolCallSplitter, type ChatEvent, type ChatModel, type ChatOptions, type Message } from "@lfmkit/pipeline";
import { TextTokenizer } from "@lfmkit/tokenizer";
import OpenAI from "openai";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startServer, type RunningServer } from "../src/index.js";

const modelDir = join(repoRoot(), "models", "lfmkit-demo");
const SCRIPT = `Checking both. ${TOOL_CALL_START}[get_weather(city="Paris", unit='celsius'), search_flights(route={"from": "CDG", "to": "JFK"}, dates=["2026-12-24", "2026-12-31"], nonstop=True, max_price=950.5)]${TOOL_CALL_END}`;

/** Answers every chat with the script's tokens, and records what it was asked. */
class ScriptedModel implements ChatModel {
  readonly architecture = "text";
  readonly path = modelDir;
  readonly tokenizer = TextTokenizer.load(modelDir);
  readonly asked: { messages: readonly Message[]; options: ChatOptions }[] = [];
  readonly keptBytes = 0;

  async *chat(messages: readonly Message[], options: ChatOptions = {}): AsyncGenerator<ChatEvent> {
    this.asked.push({ messages, options });
    const ids = this.tokenizer.encode(SCRIPT);
    const decoder = this.tokenizer.streamDecoder();
    const splitter = new ToolCallSplitter({ start: this.tokenizer.encode(TOOL_CALL_START)[0], end: this.tokenizer.encode(TOOL_CALL_END)[0] }, (part) => this.tokenizer.decode(part, { skipSpecialTokens: true }));
    for (const id of ids) {
      const text = splitter.push(id, decoder.push(id));
      if (text) yield { type: "text", text, tokenId: id };
    }
    const { text, toolCalls } = splitter.finish();
    const timings = { prefillMs: 1, decodeMs: 1, timeToFirstTokenMs: 1, prefillTokensPerSecond: 1, decodeTokensPerSecond: 1 };
    yield { type: "done", finishReason: "tool_calls", text, toolCalls, ids, promptIds: [1], usage: { promptTokens: 1, cachedPromptTokens: 0, completionTokens: ids.length, totalTokens: ids.length + 1 }, timings };
  }

  complete(): AsyncIterable<ChatEvent> {
    throw new Error("not scripted");
  }

  async dispose(): Promise<void> {}
}

const expectedCalls = [
  { name: "get_weather", arguments: { city: "Paris", unit: "celsius" } },
  { name: "search_flights", arguments: { route: { from: "CDG", to: "JFK" }, dates: ["2026-12-24", "2026-12-31"], nonstop: true, max_price: 950.5 } },
];
const tools: OpenAI.ChatCompletionFunctionTool[] = [
  { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } },
  { type: "function", function: { name: "search_flights", description: "Find flights", parameters: { type: "object" } } },
];

let server: RunningServer;
let client: OpenAI;
let model: ScriptedModel;
beforeAll(async () => {
  model = new ScriptedModel();
  server = await startServer({ modelPath: modelDir, model, port: 0 });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(() => server.close());

test("tool calls in a whole answer: parsed exactly, finish_reason tool_calls, tools passed to the template", async () => {
  const response = await client.chat.completions.create({ model: "lfmkit-demo", tools, messages: [{ role: "user", content: "Weather in Paris and flights to New York?" }] });
  const choice = response.choices[0];
  expect(choice.finish_reason).toBe("tool_calls");
  expect(choice.message.content).toBe("Checking both. ");
  const calls = choice.message.tool_calls!.map((c) => (c.type === "function" ? { name: c.function.name, arguments: JSON.parse(c.function.arguments) } : c));
  expect(calls).toEqual(expectedCalls);
  expect(new Set(choice.message.tool_calls!.map((c) => c.id)).size).toBe(2);
  expect(model.asked.at(-1)!.options.tools).toEqual(tools.map((t) => t.function));
});

test("tool calls in a stream arrive as delta.tool_calls", async () => {
  const stream = await client.chat.completions.create({ model: "lfmkit-demo", tools, stream: true, messages: [{ role: "user", content: "Go" }] });
  const calls: { name?: string; arguments: string }[] = [];
  let finish: string | null = null;
  for await (const chunk of stream) {
    for (const call of chunk.choices[0]?.delta.tool_calls ?? []) {
      calls[call.index] ??= { arguments: "" };
      calls[call.index].name ??= call.function?.name;
      calls[call.index].arguments += call.function?.arguments ?? "";
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  expect(calls.map((c) => ({ name: c.name, arguments: JSON.parse(c.arguments) }))).toEqual(expectedCalls);
  expect(finish).toBe("tool_calls");
});

test("the calls and the tool results go back into the next turn's prompt", async () => {
  await client.chat.completions.create({
    model: "lfmkit-demo",
    tools,
    tool_choice: "none",
    messages: [
      { role: "user", content: "Weather?" },
      { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: JSON.stringify({ city: "Paris" }) } }] },
      { role: "tool", tool_call_id: "call_1", content: '{"temperature": 7}' },
    ],
  });
  const { messages, options } = model.asked.at(-1)!;
  expect(messages[1]).toEqual({ role: "assistant", content: "", toolCalls: [{ name: "get_weather", arguments: { city: "Paris" } }] });
  expect(messages[2]).toEqual({ role: "tool", content: '{"temperature": 7}' });
  expect(options.tools).toBeUndefined();
});
