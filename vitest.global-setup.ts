import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One scratch root per test run: `scratchDir` creates under it, and it is removed when the run ends. */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), "lfmkit-scratch-"));
  process.env.LFMKIT_SCRATCH_DIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
