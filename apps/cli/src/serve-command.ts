import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * `lfm serve` runs the playground app's own entry point in a child process with the same arguments:
 * apps do not import each other, and the server's lifetime (signals, exit code) stays its own.
 */
export function serve(args: readonly string[]): Promise<void> {
  const entry = fileURLToPath(import.meta.resolve("@lfmkit/playground/main"));
  const child = spawn(process.execPath, [entry, ...args], { stdio: "inherit" });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  return new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      process.exitCode = code ?? (signal ? 1 : 0);
      resolve();
    });
  });
}
