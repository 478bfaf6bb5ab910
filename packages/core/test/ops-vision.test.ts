/** Operators of the vision encoders, against their closed-form definitions. */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { scratchDir } from "@lfmkit/testing";
import { expect, test } from "vitest";
import { GraphBuilder, openSession, ops, ort, type Session } from "../src/index.js";

/** One graph for every input shape: all four axes of x are dynamic. */
async function pixelUnshuffleSession(factor: number): Promise<Session> {
  const dir = scratchDir("ops-vision");
  const g = new GraphBuilder(join(dir, "g.data"), "g.data");
  const x = g.input("x", "float32", ["batch", "height", "width", "channels"]);
  g.output(ops.pixelUnshuffle(g, x, factor), "y", "float32", ["batch", "rows", "columns", "blockChannels"]);
  writeFileSync(join(dir, "g.onnx"), g.finish("ops"));
  return openSession(join(dir, "g.onnx"));
}

test.each([
  { factor: 2, shapes: [[2, 4, 6, 3], [1, 6, 2, 5], [3, 2, 2, 1]] },
  { factor: 3, shapes: [[2, 6, 3, 2]] },
])("pixelUnshuffle by $factor: out[b, i, j, (m·f + k)·C + c] = x[b, i·f + m, j·f + k, c]", async ({ factor: f, shapes }) => {
  const session = await pixelUnshuffleSession(f);
  for (const [B, H, W, C] of shapes) {
    const x = Float32Array.from({ length: B * H * W * C }, (_, i) => i);
    const out = await session.run({ x: new ort.Tensor("float32", x, [B, H, W, C]) });
    expect(out.y.dims).toEqual([B, H / f, W / f, f * f * C]);
    const want = new Float32Array(x.length);
    for (let b = 0; b < B; b++) {
      for (let row = 0; row < H; row++) {
        for (let column = 0; column < W; column++) {
          const [i, m, j, k] = [Math.floor(row / f), row % f, Math.floor(column / f), column % f];
          for (let c = 0; c < C; c++) want[(((b * (H / f) + i) * (W / f) + j) * f * f + m * f + k) * C + c] = x[((b * H + row) * W + column) * C + c];
        }
      }
    }
    expect(Array.from(out.y.data as Float32Array)).toEqual(Array.from(want));
  }
  await session.release();
});
