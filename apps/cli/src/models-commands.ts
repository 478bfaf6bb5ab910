/** `lfm models list | verify | hash`: the supported models' manifests, and a folder checked against one. */
import { fileURLToPath } from "node:url";
import { LfmkitError } from "@lfmkit/core";
import { describeFiles, manifestFor, readManifests, verifyModel } from "@lfmkit/pipeline";

const MANIFESTS = fileURLToPath(new URL("../../../models/manifests", import.meta.url));

export function runList(args: { json: boolean }): void {
  const manifests = readManifests(MANIFESTS);
  if (args.json) {
    process.stdout.write(`${JSON.stringify(manifests.map(({ name, architecture, page, description }) => ({ name, architecture, page, description })))}\n`);
    return;
  }
  const width = Math.max(...manifests.map((m) => m.name.length));
  for (const m of manifests) process.stdout.write(`${m.name.padEnd(width)}  ${m.architecture.padEnd(15)}  ${m.page}\n`);
}

export async function runVerify(args: { dir: string; manifest?: string; json: boolean }): Promise<void> {
  const manifests = readManifests(MANIFESTS);
  const manifest = args.manifest ? manifests.find((m) => m.name === args.manifest) : manifestFor(args.dir, manifests);
  if (!manifest) throw new LfmkitError(`no manifest ${args.manifest ? `named "${args.manifest}"` : "matches this folder's name"} (lfm models list; or --manifest NAME)`, args.dir);
  const checks = await verifyModel(args.dir, manifest);
  const bad = checks.filter((c) => c.status !== "ok" && c.status !== "unrecorded");
  if (args.json) process.stdout.write(`${JSON.stringify({ manifest: manifest.name, ok: bad.length === 0, files: checks })}\n`);
  else for (const c of checks) process.stdout.write(`${c.status.padEnd(10)}  ${c.path}${c.detail ? `  (${c.detail})` : ""}\n`);
  if (bad.length > 0) throw new LfmkitError(`${bad.length} of ${checks.length} files do not match the manifest of ${manifest.name}`, args.dir);
}

export async function runHash(args: { dir: string }): Promise<void> {
  process.stdout.write(`${JSON.stringify({ files: await describeFiles(args.dir) }, null, 2)}\n`);
}
