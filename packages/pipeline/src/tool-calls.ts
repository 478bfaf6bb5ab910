/**
 * LFM2's tool calls: the model writes `<|tool_call_start|>[name(arg=value, …), …]<|tool_call_end|>`
 * (Pythonic calls; JSON `[{"name": …, "arguments": {…}}]` when asked for JSON). This reads them into
 * structured calls and writes them back in the same form for the next turn's prompt.
 */
import { LfmkitError } from "@lfmkit/core";

export const TOOL_CALL_START = "<|tool_call_start|>";
export const TOOL_CALL_END = "<|tool_call_end|>";

export interface ToolCall {
  readonly name: string;
  readonly arguments: Record<string, unknown>;
}

/** The calls of one `[…]` list, Pythonic or JSON. */
export function parseToolCalls(text: string): ToolCall[] {
  const source = text.trim();
  if (source.startsWith("[{") || source.startsWith("{")) return parseJsonCalls(source);
  const reader = new PythonReader(source);
  const calls = reader.callList();
  reader.end();
  return calls;
}

/** Calls as the model writes them, for an assistant turn of the prompt. */
export function formatToolCalls(calls: readonly ToolCall[]): string {
  const call = (c: ToolCall) => `${c.name}(${Object.entries(c.arguments).map(([k, v]) => `${k}=${pythonLiteral(v)}`).join(", ")})`;
  return `${TOOL_CALL_START}[${calls.map(call).join(", ")}]${TOOL_CALL_END}`;
}

function parseJsonCalls(source: string): ToolCall[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch (error) {
    throw new LfmkitError(`tool call is not valid JSON (${(error as Error).message})`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  return list.map((item) => {
    const { name, arguments: args } = (item ?? {}) as { name?: unknown; arguments?: unknown };
    if (typeof name !== "string") throw new LfmkitError("a JSON tool call has no name");
    const values = typeof args === "string" ? JSON.parse(args) : (args ?? {});
    return { name, arguments: values as Record<string, unknown> };
  });
}

function pythonLiteral(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(pythonLiteral).join(", ")}]`;
  return `{${Object.entries(value as Record<string, unknown>).map(([k, v]) => `${JSON.stringify(k)}: ${pythonLiteral(v)}`).join(", ")}}`;
}

/** A small reader of Python call lists and literals: strings, numbers, booleans, None, lists, tuples, dicts. */
class PythonReader {
  private at = 0;

  constructor(private readonly text: string) {}

  callList(): ToolCall[] {
    const calls: ToolCall[] = [];
    const bracketed = this.peek() === "[";
    if (bracketed) this.expect("[");
    while (this.peek() !== (bracketed ? "]" : "")) {
      calls.push(this.call());
      if (!this.accept(",")) break;
    }
    if (bracketed) this.expect("]");
    return calls;
  }

  end(): void {
    this.space();
    if (this.at < this.text.length) this.fail("unexpected text after the calls");
  }

  private call(): ToolCall {
    const name = this.identifier(/[\w.]/);
    this.expect("(");
    const args: Record<string, unknown> = {};
    while (this.peek() !== ")") {
      const key = this.identifier(/\w/);
      this.expect("=");
      args[key] = this.value();
      if (!this.accept(",")) break;
    }
    this.expect(")");
    return { name, arguments: args };
  }

  private value(): unknown {
    const c = this.peek();
    if (c === '"' || c === "'") return this.string();
    if (c === "[" || c === "(") return this.sequence(c === "[" ? "]" : ")");
    if (c === "{") return this.dict();
    const word = this.match(/^(True|False|None|true|false|null)\b/);
    if (word) return word === "True" || word === "true" ? true : word === "False" || word === "false" ? false : null;
    const number = this.match(/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?/);
    if (number) return Number(number);
    return this.fail("expected a value");
  }

  private sequence(close: string): unknown[] {
    this.at++;
    const items: unknown[] = [];
    while (this.peek() !== close) {
      items.push(this.value());
      if (!this.accept(",")) break;
    }
    this.expect(close);
    return items;
  }

  private dict(): Record<string, unknown> {
    this.expect("{");
    const entries: Record<string, unknown> = {};
    while (this.peek() !== "}") {
      const key = this.value();
      this.expect(":");
      entries[String(key)] = this.value();
      if (!this.accept(",")) break;
    }
    this.expect("}");
    return entries;
  }

  private string(): string {
    const quote = this.text[this.at++];
    let out = "";
    while (this.at < this.text.length && this.text[this.at] !== quote) {
      const c = this.text[this.at++];
      if (c !== "\\") {
        out += c;
        continue;
      }
      const escaped = this.text[this.at++];
      const simple: Record<string, string> = { n: "\n", t: "\t", r: "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0" };
      if (escaped in simple) out += simple[escaped];
      else if (escaped === "u" || escaped === "x") {
        const digits = this.text.slice(this.at, this.at + (escaped === "u" ? 4 : 2));
        out += String.fromCharCode(parseInt(digits, 16));
        this.at += digits.length;
      } else out += `\\${escaped}`;
    }
    if (this.text[this.at] !== quote) this.fail("unterminated string");
    this.at++;
    return out;
  }

  private identifier(allowed: RegExp): string {
    this.space();
    const start = this.at;
    while (this.at < this.text.length && allowed.test(this.text[this.at])) this.at++;
    if (start === this.at) this.fail("expected a name");
    return this.text.slice(start, this.at);
  }

  private match(pattern: RegExp): string | undefined {
    this.space();
    const found = pattern.exec(this.text.slice(this.at));
    if (!found) return undefined;
    this.at += found[0].length;
    return found[0];
  }

  private peek(): string {
    this.space();
    return this.text[this.at] ?? "";
  }

  private accept(c: string): boolean {
    if (this.peek() !== c) return false;
    this.at++;
    return true;
  }

  private expect(c: string): void {
    if (!this.accept(c)) this.fail(`expected "${c}"`);
  }

  private space(): void {
    while (this.at < this.text.length && /\s/.test(this.text[this.at])) this.at++;
  }

  private fail(message: string): never {
    throw new LfmkitError(`malformed tool call: ${message} at character ${this.at} of ${JSON.stringify(this.text.slice(0, 200))}`);
  }
}

/**
 * Splits a stream of generated tokens into the answer's text and its tool calls: tokens between the
 * call markers are held back and parsed when the end marker comes. A call region that does not parse
 * stays in the text as the model wrote it.
 */
export class ToolCallSplitter {
  private region: number[] | undefined;
  private readonly calls: ToolCall[] = [];
  private text = "";

  constructor(
    private readonly markers: { start: number; end: number } | undefined,
    private readonly decodeIds: (ids: readonly number[]) => string,
  ) {}

  /** The text this token adds to the answer (empty inside a call). */
  push(id: number, text: string): string {
    if (this.markers && id === this.markers.start && !this.region) {
      this.region = [];
      return "";
    }
    if (!this.region) {
      this.text += text;
      return text;
    }
    if (id !== this.markers!.end) {
      this.region.push(id);
      return "";
    }
    const body = this.decodeIds(this.region);
    this.region = undefined;
    try {
      this.calls.push(...parseToolCalls(body));
      return "";
    } catch {
      const raw = `${TOOL_CALL_START}${body}${TOOL_CALL_END}`;
      this.text += raw;
      return raw;
    }
  }

  /** The answer's text and calls; an unterminated call region is returned as text. */
  finish(): { text: string; toolCalls: ToolCall[] } {
    if (this.region) this.text += TOOL_CALL_START + this.decodeIds(this.region);
    return { text: this.text, toolCalls: [...this.calls] };
  }
}
