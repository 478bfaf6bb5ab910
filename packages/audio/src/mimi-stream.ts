/** One Mimi graph run chunk after chunk, each chunk's state slots fed from the previous chunk's outputs. */
import { ort, type GraphModel } from "@lfmkit/core";
import { io } from "./mimi.js";
import { nextState, type StateSlot } from "./mimi-layers.js";

export class GraphStream {
  private readonly state = new Map<string, ort.Tensor>();
  /** Transformer positions streamed so far. */
  private positions = 0;

  constructor(
    private readonly graph: GraphModel,
    private readonly slots: readonly StateSlot[],
    private readonly positionsPerFrame: number,
  ) {
    for (const slot of slots) {
      const size = slot.initial.reduce((a, b) => a * b, 1);
      this.state.set(slot.name, new ort.Tensor("float32", new Float32Array(size), [...slot.initial]));
    }
  }

  /** Runs the next chunk of `frames` frames and keeps its state for the one after. */
  async run(feeds: Record<string, ort.Tensor>, frames: number): Promise<Record<string, ort.Tensor>> {
    const offset = new ort.Tensor("int64", BigInt64Array.of(BigInt(this.positions)), [1]);
    const out = await this.graph.run({ ...feeds, ...Object.fromEntries(this.state), [io.offset]: offset });
    for (const slot of this.slots) this.state.set(slot.name, out[nextState(slot.name)]);
    this.positions += frames * this.positionsPerFrame;
    return out;
  }
}
