/** The folder shortcuts: one job per image (caption) or per WAV file (transcribe), ids the files' relative paths. */
import { readdirSync, statSync, type Dirent } from "node:fs";
import { extname, join, relative, resolve, sep } from "node:path";
import { LfmkitError } from "@lfmkit/core";
import { toChatJob, type JobLine } from "./job-contract.js";
import type { JobSource } from "./job-source.js";
import { describeFsError } from "./fs-errors.js";

/** The image formats the vision pipeline decodes. */
const IMAGE_EXTENSIONS = [".png", ".jpg", ".jpeg", ".webp", ".gif", ".avif", ".tif", ".tiff"];
export const DEFAULT_CAPTION_PROMPT = "Describe this image.";
export const TRANSCRIBE_PROMPT = "Perform ASR.";

/** The per-job options a folder shortcut gives every job. */
export type FolderJobOptions = Pick<JobLine, "max_tokens" | "temperature">;

export function captionSource(dir: string, prompt: string, options: FolderJobOptions = {}): JobSource {
  const root = resolve(dir);
  const files = filesUnder(root, IMAGE_EXTENSIONS);
  return folderSource(files.map((file) => toChatJob({ id: idOf(root, file), prompt, images: file, response: "text", ...options }, root)));
}

export function transcribeSource(dir: string, options: FolderJobOptions = {}): JobSource {
  const root = resolve(dir);
  const files = filesUnder(root, [".wav"]);
  return folderSource(files.map((file) => toChatJob({ id: idOf(root, file), prompt: TRANSCRIBE_PROMPT, audio: file, response: "text", ...options }, root)));
}

function folderSource(jobs: ReturnType<typeof toChatJob>[]): JobSource {
  return {
    total: jobs.length,
    async *entries() {
      yield* jobs;
    },
  };
}

/**
 * Files under `root` (recursive; links to files count, as a user who links recordings into a folder
 * expects) with one of the extensions, in code-point order of their relative paths.
 */
function filesUnder(root: string, extensions: readonly string[]): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(root, { recursive: true, withFileTypes: true });
  } catch (error) {
    throw new LfmkitError(`cannot read the folder: ${describeFsError(error)}`, root);
  }
  return entries
    .filter((entry) => extensions.includes(extname(entry.name).toLowerCase()))
    .map((entry) => join(entry.parentPath, entry.name))
    .filter((path) => statSync(path, { throwIfNoEntry: false })?.isFile() ?? false)
    .sort();
}

/** A file's id: its path relative to the folder, with forward slashes on every system. */
function idOf(root: string, file: string): string {
  return relative(root, file).split(sep).join("/");
}
