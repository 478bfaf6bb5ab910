import { createHash, randomBytes } from "node:crypto";
import { closeSync, createReadStream, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { z } from "zod";
import { GraphBuilder, type FileDigest } from "../onnx/graph.js";

const GRAPH_FILE = "graph.onnx";
const DATA_FILE = "graph.onnx.data";
const MANIFEST_FILE = "manifest.json";

export function defaultCacheDir(): string {
  return process.env.LFMKIT_CACHE_DIR ?? join(homedir(), ".cache", "lfmkit");
}

export interface GraphRequest {
  /** Everything besides the checkpoint files that shapes the graph: build options, config, builder version. */
  readonly key: unknown;
  /** Checkpoint files whose contents the graph is built from. */
  readonly files: readonly string[];
  readonly name: string;
  readonly cacheDir?: string;
  build(g: GraphBuilder): void;
}

export interface CachedGraph {
  readonly path: string;
  /** True when this call built the graph, false when a verified cache entry was reused. */
  readonly built: boolean;
  /** The entry's files besides the graph: its data file and the side files the runtime reads. */
  readonly weightFiles: readonly string[];
}

const manifestSchema = z.object({
  files: z.record(z.string(), z.object({ size: z.number(), sha256: z.string() })),
});

/**
 * Returns the path of the graph for `request`, building it only if no verified entry exists.
 * Entries are keyed by the checkpoint files (`fileIdentity`) and the build key; an entry whose files
 * do not match its manifest (truncated, edited, half-written) is deleted and rebuilt.
 */
export async function cachedGraph(request: GraphRequest): Promise<CachedGraph> {
  const cacheDir = resolve(request.cacheDir ?? defaultCacheDir());
  const hash = createHash("sha256").update(JSON.stringify(request.key));
  for (const file of request.files) hash.update(fileIdentity(file));
  const entry = join(cacheDir, "graphs", hash.digest("hex").slice(0, 32));
  const existing = await verifiedFiles(cacheDir, entry);
  if (existing) return entryGraph(entry, existing, false);
  rmSync(entry, { recursive: true, force: true });

  const staging = `${entry}.tmp-${process.pid}-${randomBytes(4).toString("hex")}`;
  mkdirSync(staging, { recursive: true });
  const g = new GraphBuilder(join(staging, DATA_FILE), DATA_FILE);
  try {
    request.build(g);
    const graph = g.finish(request.name);
    writeFileSync(join(staging, GRAPH_FILE), graph);
    const files: Record<string, FileDigest> = { [GRAPH_FILE]: { size: graph.byteLength, sha256: createHash("sha256").update(graph).digest("hex") } };
    for (const name of [DATA_FILE, ...g.sideFiles]) {
      const digest = g.fileDigests().get(name);
      if (digest) files[name] = digest;
    }
    writeFileSync(join(staging, MANIFEST_FILE), JSON.stringify({ files }, null, 1));
    for (const name of [...Object.keys(files), MANIFEST_FILE]) syncToDisk(join(staging, name));
    if (existsSync(entry)) rmSync(staging, { recursive: true, force: true });
    else {
      renameSync(staging, entry);
      for (const [name, { sha256 }] of Object.entries(files)) rememberHash(cacheDir, join(entry, name), sha256);
    }
    return entryGraph(entry, Object.keys(files), true);
  } catch (error) {
    g.discard();
    rmSync(staging, { recursive: true, force: true });
    throw error;
  }
}

function entryGraph(entry: string, files: readonly string[], built: boolean): CachedGraph {
  return { path: join(entry, GRAPH_FILE), built, weightFiles: files.filter((name) => name !== GRAPH_FILE).map((name) => join(entry, name)) };
}

/**
 * Entries reach the disk before they are published: an entry's hashes are remembered by size, mtime
 * and inode, which a crash before writeback would leave unchanged over lost contents.
 */
function syncToDisk(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * An entry is valid when every file has its manifest size and sha256; returns its file names then.
 * The hashes are remembered (`contentHash`), so an entry is read in full only when a file changed on
 * disk.
 */
async function verifiedFiles(cacheDir: string, entry: string): Promise<string[] | undefined> {
  const manifestPath = join(entry, MANIFEST_FILE);
  if (!existsSync(manifestPath)) return undefined;
  try {
    const manifest = manifestSchema.parse(JSON.parse(readFileSync(manifestPath, "utf8")));
    if (!manifest.files[GRAPH_FILE]) return undefined;
    for (const [name, expected] of Object.entries(manifest.files)) {
      const path = join(entry, name);
      if (!existsSync(path) || statSync(path).size !== expected.size) return undefined;
      if ((await contentHash(cacheDir, path)) !== expected.sha256) return undefined;
    }
    return Object.keys(manifest.files);
  } catch {
    return undefined;
  }
}

/**
 * What keys a checkpoint file: its real path, device, inode, size, and modification and change times,
 * not a hash of its contents, which cost a first load about a second per 700 MB. An entry's own files
 * are trusted by the same identity (`contentHash`); the change time, which no copy or `touch` can set
 * back, also catches a rewrite that restores the size and modification time. The price: a copy of a
 * checkpoint elsewhere builds its own entry.
 */
function fileIdentity(file: string): string {
  const path = realpathSync(file);
  const { dev, ino, size, mtimeMs, ctimeMs } = statSync(path);
  return JSON.stringify({ path, dev, ino, size, mtimeMs, ctimeMs });
}

const fileHashSchema = z.object({ size: z.number(), mtimeMs: z.number(), ino: z.number(), sha256: z.string() });

/**
 * sha256 of a file, remembered per (path, size, mtime, inode) so an unchanged multi-gigabyte
 * entry is read in full only when it changed.
 */
async function contentHash(cacheDir: string, file: string): Promise<string> {
  const path = resolve(file);
  const stat = statSync(path);
  const memo = memoPath(cacheDir, path);
  if (existsSync(memo)) {
    const parsed = fileHashSchema.safeParse(JSON.parse(readFileSync(memo, "utf8")));
    if (parsed.success && parsed.data.size === stat.size && parsed.data.mtimeMs === stat.mtimeMs && parsed.data.ino === stat.ino) {
      return parsed.data.sha256;
    }
  }
  const sha256 = await sha256File(path);
  rememberHash(cacheDir, path, sha256);
  return sha256;
}

function rememberHash(cacheDir: string, file: string, sha256: string): void {
  const path = resolve(file);
  const stat = statSync(path);
  mkdirSync(join(cacheDir, "file-hashes"), { recursive: true });
  writeFileSync(memoPath(cacheDir, path), JSON.stringify({ size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, sha256 }));
}

function memoPath(cacheDir: string, path: string): string {
  return join(cacheDir, "file-hashes", `${createHash("sha256").update(path).digest("hex").slice(0, 32)}.json`);
}

function sha256File(path: string): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const hash = createHash("sha256");
    createReadStream(path, { highWaterMark: 1 << 22 })
      .on("data", (chunk) => hash.update(chunk))
      .on("end", () => resolvePromise(hash.digest("hex")))
      .on("error", reject);
  });
}
