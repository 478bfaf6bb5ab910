import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * `lfm serve`, `lfm batch` and `lfm worker` run another app's own entry point (`@lfmkit/playground/main`,
 * `@lfmkit/batch/main`) in a child process with the same arguments: apps do not import each other, and
 * the child's lifetime (signals, exit code) stays its own.
 */
export function runApp(entry: string, args: readonly string[]): Promise<void> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.resolve(entry)), ...args], { stdio: "inherit" });
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
