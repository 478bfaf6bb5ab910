// Compiles src/quantize.wat into src/quantize-wasm.ts (the module's bytes, base64), which the package
// ships instead of the .wat: run after editing the .wat (`pnpm --filter @lfmkit/core build:wasm`).
// With --check it only tells whether src/quantize-wasm.ts is the .wat compiled (the core's tests
// run that, so the two cannot drift apart).
import { readFileSync, writeFileSync } from "node:fs";
import createWabt from "wabt";

const watPath = new URL("../src/quantize.wat", import.meta.url);
const outPath = new URL("../src/quantize-wasm.ts", import.meta.url);

const wabt = await createWabt();
const module = wabt.parseWat("quantize.wat", readFileSync(watPath, "utf8"), { simd: true });
module.validate();
const bytes = module.toBinary({}).buffer;
module.destroy();
const source = `/** \`quantize.wat\` compiled (\`scripts/build-wasm.mjs\`): ${bytes.length} bytes of WebAssembly, base64. */
export const QUANTIZE_WASM_BASE64 =
  "${Buffer.from(bytes).toString("base64")}";
`;
if (process.argv.includes("--check")) {
  if (readFileSync(outPath, "utf8") !== source) {
    console.error("src/quantize-wasm.ts is not src/quantize.wat compiled: run `pnpm --filter @lfmkit/core build:wasm`");
    process.exit(1);
  }
} else {
  writeFileSync(outPath, source);
  console.log(`src/quantize-wasm.ts: ${bytes.length} bytes`);
}
