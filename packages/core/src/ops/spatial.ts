/** Rearrangements of feature maps laid out channels last, [B, H, W, C]. */
import type { GraphBuilder } from "../onnx/graph.js";

/**
 * Pixel unshuffle (space-to-depth) of x [B, H, W, C] by `factor` f, H and W multiples of f:
 * each f×f block becomes one vector, ordered (row offset, column offset, channel):
 *   out[b, i, j, (m·f + k)·C + c] = x[b, i·f + m, j·f + k, c]      → [B, H/f, W/f, f²·C]
 * All four sizes may be dynamic.
 */
export function pixelUnshuffle(g: GraphBuilder, x: string, factor: number): string {
  const shape = g.op1("Shape", [x]);
  const dims = (start: number, end: number) => g.op1("Slice", [shape, g.constant([start]), g.constant([end])]);
  const rowBlocks = g.op1("Reshape", [
    x,
    g.op1("Concat", [g.constant([-1, factor]), g.op1("Div", [dims(2, 3), g.scalar(factor)]), g.op1("Mul", [dims(3, 4), g.scalar(factor)])], { axis: 0 }),
  ]); // [B·H/f, f, W/f, f·C]: element [b·H/f + i, m, j, k·C + c]
  const blocksFirst = g.op1("Transpose", [rowBlocks], { perm: [0, 2, 1, 3] }); // [B·H/f, W/f, f, f·C]
  const outShape = g.op1(
    "Concat",
    [dims(0, 1), g.op1("Div", [dims(1, 3), g.scalar(factor)]), g.op1("Mul", [dims(3, 4), g.scalar(factor * factor)])],
    { axis: 0 },
  );
  return g.op1("Reshape", [blocksFirst, outShape]);
}
