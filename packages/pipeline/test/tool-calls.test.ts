/** LFM2's tool-call format, read from token streams as the model writes them. */
import { join } from "node:path";
import { checkpointFixtures } from "@lfmkit/testing";
import { TextTokenizer } from "@lfmkit/tokenizer";
import { describe, expect, test } from "vitest";
import { TOOL_CALL_END, TOOL_CALL_START, ToolCallSplitter, formatToolCalls, parseToolCalls } from "../src/index.js";

describe("parseToolCalls", () => {
  test("Pythonic calls: several, with strings, numbers, booleans, None, lists, tuples and nested dicts", () => {
    const text = `[get_weather(city="Paris", days=3), search(query='it\\'s "quoted"\\n', limit=-2.5e1, exact=True, since=None, tags=["a", 'b'], box=(1, 2), filters={"price": {"max": 10.5, "currency": "EUR"}, "in_stock": false}), ping()]`;
    expect(parseToolCalls(text)).toEqual([
      { name: "get_weather", arguments: { city: "Paris", days: 3 } },
      {
        name: "search",
        arguments: {
          query: `it's "quoted"\n`,
          limit: -25,
          exact: true,
          since: null,
          tags: ["a", "b"],
          box: [1, 2],
          filters: { price: { max: 10.5, currency: "EUR" }, in_stock: false },
        },
      },
      { name: "ping", arguments: {} },
    ]);
  });

  test("JSON calls", () => {
    expect(parseToolCalls(`[{"name": "get_status", "arguments": {"candidate_id": "12345"}}]`)).toEqual([{ name: "get_status", arguments: { candidate_id: "12345" } }]);
  });

  test("malformed calls are refused with a message saying where", () => {
    expect(() => parseToolCalls(`[get_weather(city="Paris"`)).toThrow(/malformed tool call: expected "\)"/);
    expect(() => parseToolCalls(`[f(x=)]`)).toThrow(/expected a value/);
  });

  test("formatToolCalls writes what parseToolCalls reads", () => {
    const calls = [{ name: "f", arguments: { a: "x\"y", b: [1, { c: null }], d: false } }];
    const written = formatToolCalls(calls);
    expect(written.startsWith(TOOL_CALL_START) && written.endsWith(TOOL_CALL_END)).toBe(true);
    expect(parseToolCalls(written.slice(TOOL_CALL_START.length, -TOOL_CALL_END.length))).toEqual(calls);
  });
});

describe.each(checkpointFixtures("text").slice(0, 1))("ToolCallSplitter over the token stream of %s's tokenizer", (dir) => {
  const tokenizer = TextTokenizer.load(join(dir));
  const markers = { start: tokenizer.encode(TOOL_CALL_START)[0], end: tokenizer.encode(TOOL_CALL_END)[0] };

  function split(output: string) {
    const splitter = new ToolCallSplitter(markers, (ids) => tokenizer.decode(ids, { skipSpecialTokens: true }));
    const decoder = tokenizer.streamDecoder();
    const streamed = tokenizer.encode(output).map((id) => splitter.push(id, decoder.push(id))).join("");
    return { streamed, ...splitter.finish() };
  }

  test("the markers are single special tokens", () => {
    expect(tokenizer.encode(TOOL_CALL_START)).toHaveLength(1);
    expect(tokenizer.encode(TOOL_CALL_END)).toHaveLength(1);
  });

  test("text around several calls streams; the calls are parsed", () => {
    const out = split(`Let me check. ${TOOL_CALL_START}[get_weather(city="Paris", days=3), get_time(zone={"name": "CET", "dst": True})]${TOOL_CALL_END} Done.`);
    expect(out.toolCalls).toEqual([
      { name: "get_weather", arguments: { city: "Paris", days: 3 } },
      { name: "get_time", arguments: { zone: { name: "CET", dst: true } } },
    ]);
    expect(out.text).toBe("Let me check.  Done.");
    expect(out.streamed).toBe(out.text);
  });

  test("a call that does not parse stays in the text as written", () => {
    const out = split(`${TOOL_CALL_START}[broken(${TOOL_CALL_END}`);
    expect(out.toolCalls).toEqual([]);
    expect(out.text).toBe(`${TOOL_CALL_START}[broken(${TOOL_CALL_END}`);
  });
});
