import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * `vite --config web/vite.config.ts` serves the UI with hot reload, its API calls proxied to a running
 * playground server (LFMKIT_API, default http://127.0.0.1:8080: start one with `lfm serve`).
 */
const api = process.env.LFMKIT_API ?? "http://127.0.0.1:8080";

export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "./",
  server: { proxy: { "/v1": api, "/health": api } },
  build: { outDir: fileURLToPath(new URL("../dist/web", import.meta.url)), emptyOutDir: true },
});
