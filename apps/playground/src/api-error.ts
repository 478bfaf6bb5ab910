/** Errors answered in OpenAI's shape: `{ "error": { "message", "type", "param", "code" } }`. */
import { LfmkitError } from "@lfmkit/core";
import type { z } from "zod";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type = status >= 500 ? "server_error" : "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
  ) {
    super(message);
  }

  get body() {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  /** A body that failed its schema: the first issue, with the path as `param`. */
  static invalid(error: z.ZodError): ApiError {
    const issue = error.issues[0];
    const param = issue.path.map(String).join(".") || null;
    return new ApiError(400, param ? `${param}: ${issue.message}` : issue.message, "invalid_request_error", param, "invalid_value");
  }

  /** Any thrown value: lfmkit's own errors are the request's fault (bad image, too long a prompt…), the rest the server's. */
  static from(error: unknown): ApiError {
    if (error instanceof ApiError) return error;
    if (error instanceof LfmkitError) return new ApiError(400, error.message, "invalid_request_error", null, "invalid_input");
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return new ApiError(status, (error as Error).message.split("\n")[0]);
    return new ApiError(500, "internal error", "server_error");
  }
}
