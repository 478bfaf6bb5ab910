/**
 * The playground: an OpenAI-compatible HTTP server over one loaded model, serving the web UI too.
 * Binds 127.0.0.1 unless told otherwise; an API key, when set, is required on /v1 routes.
 */
import { existsSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import fastifyMultipart from "@fastify/multipart";
import fastifyStatic from "@fastify/static";
import { loadModel, type ChatModel, type ModelOptions } from "@lfmkit/pipeline";
import Fastify, { type FastifyError, type FastifyInstance } from "fastify";
import { ApiError } from "./api-error.js";
import { speech, transcription } from "./audio-routes.js";
import { chatCompletions } from "./chat-completions.js";
import { Metrics } from "./metrics.js";

export interface ServerOptions extends ModelOptions {
  readonly modelPath: string;
  /** Default 127.0.0.1. */
  readonly host?: string;
  /** Default 8080; 0 picks a free port. */
  readonly port?: number;
  /** Required as `Authorization: Bearer <key>` on /v1 routes when set. */
  readonly apiKey?: string;
  /** Origins allowed to call the API from a browser (`*` for any); unset: no CORS headers. */
  readonly corsOrigin?: string;
  /** `file://` image URLs are read only under this folder. */
  readonly mediaRoot?: string;
  /** Largest request body (default 50 MiB: a few large images as data URLs). */
  readonly bodyLimitBytes?: number;
  /** Serve this model instead of loading `modelPath` (it is disposed with the server). */
  readonly model?: ChatModel;
}

export interface RunningServer {
  readonly url: string;
  readonly model: ChatModel;
  readonly metrics: Metrics;
  close(): Promise<void>;
}

const WEB_ROOT = fileURLToPath(new URL("../dist/web", import.meta.url));
const DEFAULT_BODY_LIMIT = 50 * 1024 * 1024;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { modelPath, host = "127.0.0.1", port = 8080, apiKey, corsOrigin, mediaRoot, bodyLimitBytes = DEFAULT_BODY_LIMIT, model: given, ...modelOptions } = options;
  const model = given ?? (await loadModel(modelPath, modelOptions));
  const modelId = basename(modelPath).replace(/\.gguf$/i, "");
  const metrics = new Metrics();
  const app = Fastify({ bodyLimit: bodyLimitBytes, logger: false });

  app.addHook("onRequest", async (request, reply) => {
    // Counted when the socket side of the response closes, which also covers streamed (hijacked) replies.
    metrics.inFlight++;
    reply.raw.once("close", () => {
      metrics.inFlight--;
      metrics.request(request.routeOptions.url ?? "unmatched", reply.raw.statusCode);
    });
    if (corsOrigin) {
      reply.header("access-control-allow-origin", corsOrigin);
      reply.header("access-control-allow-headers", "authorization, content-type");
      reply.header("access-control-allow-methods", "GET, POST, OPTIONS");
    }
    if (apiKey && request.url.startsWith("/v1/") && request.method !== "OPTIONS" && request.headers.authorization !== `Bearer ${apiKey}`) {
      throw new ApiError(401, "a valid API key is required (Authorization: Bearer <key>)", "invalid_request_error", null, "invalid_api_key");
    }
  });
  app.setErrorHandler((error: FastifyError, _request, reply) => {
    const apiError = error instanceof ApiError ? error : error.code === "FST_ERR_CTP_BODY_TOO_LARGE" ? new ApiError(413, `the request body is over the limit of ${bodyLimitBytes} bytes`) : ApiError.from(error);
    reply.status(apiError.status).send(apiError.body);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.status(404).send(new ApiError(404, `no route ${request.method} ${request.url}`, "invalid_request_error", null, "not_found").body);
  });

  if (corsOrigin) app.options("/*", async (_request, reply) => reply.status(204).send());
  app.get("/health", async () => ({ status: "ok", model: modelId }));
  app.get("/metrics", async (_request, reply) => reply.type("text/plain; version=0.0.4").send(metrics.render(model.keptBytes)));
  app.get("/v1/models", async () => ({
    object: "list",
    data: [{ id: modelId, object: "model", created: 0, owned_by: "lfmkit", architecture: model.architecture, capabilities: capabilitiesOf(model) }],
  }));
  app.post("/v1/chat/completions", (request, reply) => chatCompletions({ model, modelId, metrics, media: { mediaRoot } }, request, reply));
  await app.register(fastifyMultipart, { limits: { fileSize: bodyLimitBytes, files: 1 } });
  app.post("/v1/audio/transcriptions", (request) => transcription({ model, modelId }, request));
  app.post("/v1/audio/speech", async (request, reply) => {
    const { bytes, contentType } = await speech({ model, modelId }, request);
    return reply.type(contentType).send(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  });
  if (existsSync(join(WEB_ROOT, "index.html"))) await app.register(fastifyStatic, { root: WEB_ROOT });

  try {
    await app.listen({ host, port });
  } catch (error) {
    await model.dispose();
    throw error;
  }
  return { url: urlOf(app), model, metrics, close: () => closeServer(app, model) };
}

function capabilitiesOf(model: ChatModel) {
  return { image_input: model.architecture === "vision-language", audio_input: model.architecture === "audio", audio_output: model.architecture === "audio" };
}

function urlOf(app: FastifyInstance): string {
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("the server has no TCP address");
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

async function closeServer(app: FastifyInstance, model: ChatModel): Promise<void> {
  await app.close();
  await model.dispose();
}
