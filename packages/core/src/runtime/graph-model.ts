/**
 * The runtime every model part shares: its graph built once per checkpoint and build key (or found in
 * the cache), opened as an ORT session, with the row tables the build wrote beside it, all released
 * together by `dispose`.
 */
import { dirname, join } from "node:path";
import type { GraphBuilder } from "../onnx/graph.js";
import type { BlockGrid } from "../quantize.js";
import { cachedGraph, type CachedGraph } from "./graph-cache.js";
import { QuantizedRowTable } from "./quantized-row-table.js";
import { readAhead } from "./read-ahead.js";
import { RowTable, type RowReader } from "./row-table.js";
import { openSession, type ort, type Session } from "./session.js";

export interface GraphModelRequest {
  /** The graph family and its builder version: bump the version whenever what a checkpoint builds to changes. */
  readonly graph: string;
  readonly version: number;
  /** Everything else that shapes the graph: the config and the build options. */
  readonly key: unknown;
  /** Checkpoint files the graph is built from. */
  readonly files: readonly string[];
  /** A readable name for the graph file, e.g. `lfm2-q4`. */
  readonly name: string;
  readonly cacheDir?: string;
  readonly threads?: number;
  /** See `SessionSettings.prepackWeights`. */
  readonly prepackWeights?: boolean;
  /**
   * Tables the build writes beside the graph (`g.sideFile`), by file name: [rows, columns] of float32,
   * or [rows, columns, grid] of `encodeQuantizedRows` records.
   */
  readonly rowTables?: Readonly<Record<string, readonly [number, number, BlockGrid?]>>;
  build(g: GraphBuilder): void;
}

export class GraphModel {
  /** The run in progress, if any: runs on one session never overlap (see `run`). */
  private running: Promise<unknown> = Promise.resolve();

  private constructor(
    /** The graph file this model runs, and whether this load built it (false: reused from the cache). */
    readonly graph: CachedGraph,
    private readonly session: Session,
    private readonly tables: ReadonlyMap<string, RowReader>,
  ) {}

  static async load(request: GraphModelRequest): Promise<GraphModel> {
    const graph = await cachedGraph({
      key: { graph: request.graph, version: request.version, key: request.key },
      files: request.files,
      name: request.name,
      cacheDir: request.cacheDir,
      build: request.build,
    });
    const tables = new Map<string, RowReader>();
    const reading = graph.built ? undefined : readAhead(graph.weightFiles);
    try {
      for (const [file, [rows, columns, grid]] of Object.entries(request.rowTables ?? {})) {
        const path = join(dirname(graph.path), file);
        tables.set(file, grid ? new QuantizedRowTable(path, rows, columns, grid) : new RowTable(path, rows, columns));
      }
      return new GraphModel(graph, await openSession(graph.path, { threads: request.threads, prepackWeights: request.prepackWeights }), tables);
    } catch (error) {
      for (const table of tables.values()) table.close();
      throw error;
    } finally {
      // Not awaited: the read under way may be slow to return, and the pass only warms the page cache.
      void reading?.stop();
    }
  }

  /** A row table the build wrote, by its file name. */
  table(file: string): RowReader {
    const table = this.tables.get(file);
    if (!table) throw new Error(`the graph has no row table ${file}`);
    return table;
  }

  /**
   * Runs the graph once. Calls from concurrent requests queue behind each other instead of running
   * side by side: each run already uses every intra-op thread, so overlapping runs would only
   * oversubscribe the cores. Requests still interleave step by step, in arrival order.
   */
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
    const result = this.running.then(() => this.session.run(feeds));
    this.running = result.catch(() => undefined);
    return result;
  }

  async dispose(): Promise<void> {
    for (const table of this.tables.values()) table.close();
    await this.session.release();
  }
}
