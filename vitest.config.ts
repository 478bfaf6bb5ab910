import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: { conditions: ["lfmkit-source"] },
  ssr: { resolve: { conditions: ["lfmkit-source"] } },
  test: {
    include: ["packages/*/test/**/*.test.ts", "apps/*/test/**/*.test.ts"],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: "forks",
    globalSetup: ["./vitest.global-setup.ts"],
  },
});
