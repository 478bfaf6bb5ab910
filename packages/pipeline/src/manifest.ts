/**
 * Model manifests: what a supported model is (name, architecture, the page users get it from) and the
 * files a complete download holds, with their sizes and sha256 where they are recorded.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { z } from "zod";

export const manifestSchema = z.object({
  name: z.string().min(1),
  architecture: z.enum(["text", "vision-language", "audio"]),
  /** Where users get the model (lfmkit downloads nothing). */
  page: z.string().min(1),
  description: z.string().optional(),
  files: z
    .array(
      z.object({
        path: z.string().min(1),
        /** Recorded by `lfm models hash` from a complete download; absent where not yet recorded. */
        size: z.number().int().nonnegative().optional(),
        sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
      }),
    )
    .min(1),
});

export type Manifest = z.infer<typeof manifestSchema>;

/** The manifests in a folder (`models/manifests`), each validated. */
export function readManifests(dir: string): Manifest[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith(".json"))
    .sort()
    .map((name) => {
      const path = join(dir, name);
      const parsed = manifestSchema.safeParse(JSON.parse(readFileSync(path, "utf8")));
      if (!parsed.success) throw new LfmkitError(`not a valid manifest (${parsed.error.issues[0].path.join(".")}: ${parsed.error.issues[0].message})`, path);
      return parsed.data;
    });
}

export type FileCheck = { path: string; status: "ok" | "missing" | "size" | "sha256" | "unrecorded"; detail?: string };

/** Checks a model folder against its manifest: every file present, with the recorded size and sha256. */
export async function verifyModel(dir: string, manifest: Manifest): Promise<FileCheck[]> {
  const checks: FileCheck[] = [];
  for (const file of manifest.files) {
    const path = join(dir, file.path);
    if (!existsSync(path)) {
      checks.push({ path: file.path, status: "missing" });
      continue;
    }
    const size = statSync(path).size;
    if (file.size !== undefined && size !== file.size) checks.push({ path: file.path, status: "size", detail: `${size} bytes, expected ${file.size}` });
    else if (file.sha256 === undefined) checks.push({ path: file.path, status: "unrecorded" });
    else {
      const sha256 = await sha256Of(path);
      checks.push(sha256 === file.sha256 ? { path: file.path, status: "ok" } : { path: file.path, status: "sha256", detail: `sha256 ${sha256}, expected ${file.sha256}` });
    }
  }
  return checks;
}

/** A manifest's `files` for a folder as it is now: every file with its size and sha256. */
export async function describeFiles(dir: string): Promise<Manifest["files"]> {
  const files: Manifest["files"] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isFile()) files.push({ path: name, size: statSync(path).size, sha256: await sha256Of(path) });
  }
  return files;
}

/** The manifest a folder matches by name (its folder name or config), if any. */
export function manifestFor(dir: string, manifests: readonly Manifest[]): Manifest | undefined {
  const base = dir.replace(/\/+$/, "").split("/").at(-1)!.toLowerCase();
  return manifests.find((m) => m.name.toLowerCase() === base || m.name.split("/").at(-1)!.toLowerCase() === base);
}

function sha256Of(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolve(hash.digest("hex")))
      .on("error", reject);
  });
}
