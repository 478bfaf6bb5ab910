#!/usr/bin/env node
/** `lfm serve`: starts the playground on a model and prints its URL. */
import { fileURLToPath } from "node:url";
import { WEIGHT_FORMATS, weightFormatSchema } from "@lfmkit/core";
import { Command, Option } from "commander";
import { z } from "zod";
import { startServer } from "./server.js";

const DEFAULT_MODEL = fileURLToPath(new URL("../../../models/lfmkit-demo", import.meta.url));

const argsSchema = z.object({
  model: z.string().min(1),
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  weightFormat: weightFormatSchema,
  threads: z.coerce.number().int().positive().optional(),
  cacheDir: z.string().optional(),
  apiKey: z.string().min(1).optional(),
  corsOrigin: z.string().min(1).optional(),
  mediaRoot: z.string().min(1).optional(),
  prefixCacheMb: z.coerce.number().min(0).optional(),
  verbose: z.boolean().default(false),
});

const program = new Command()
  .name("lfm serve")
  .description("serve a model: an OpenAI-compatible API and the web playground")
  .option("--model <dir>", "model folder or GGUF file", DEFAULT_MODEL)
  .option("--host <host>", "address to bind (127.0.0.1: this machine only)", "127.0.0.1")
  .option("--port <port>", "port (0: any free port)", "8080")
  .addOption(new Option("--weight-format <format>", "how linear weights are stored").choices(WEIGHT_FORMATS).default("f32"))
  .option("--threads <n>", "ONNX Runtime intra-op threads")
  .option("--cache-dir <dir>", "where built graphs are cached (default: $LFMKIT_CACHE_DIR or ~/.cache/lfmkit)")
  .addOption(new Option("--api-key <key>", "require Authorization: Bearer <key> on /v1 routes").env("LFMKIT_API_KEY"))
  .option("--cors-origin <origin>", "allow browser calls from this origin (* for any); default: none")
  .option("--media-root <dir>", "folder whose files may be named by file:// image URLs")
  .option("--prefix-cache-mb <n>", "memory for decoder states kept so a conversation's next turn prefills only its new tokens (default 256; 0: off)")
  .option("--verbose", "print stack traces on errors")
  .action(async (options: Record<string, unknown>) => {
    const parsed = argsSchema.safeParse(options);
    if (!parsed.success) throw new Error(parsed.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join("; "));
    verbose = parsed.data.verbose;
    const { model, prefixCacheMb, ...rest } = parsed.data;
    const prefixCacheBytes = prefixCacheMb === undefined ? undefined : Math.round(prefixCacheMb * 1024 * 1024);
    const server = await startServer({ modelPath: model, prefixCacheBytes, ...rest });
    process.stdout.write(`lfmkit playground: ${server.url} (model ${model})\n`);
    const stop = () => void server.close().then(() => process.exit(0));
    process.once("SIGINT", stop);
    process.once("SIGTERM", stop);
  });

let verbose = false;

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`lfm serve: ${verbose && error instanceof Error ? error.stack : message.split("\n")[0]}\n`);
  process.exitCode = 1;
});
