/** Rotary position embeddings (RoPE), rotate-half or interleaved. */
import type { GraphBuilder } from "../onnx/graph.js";

/**
 * cos/sin tables for rotary embeddings, computed in float32 the way the reference does
 * (inv_freq and the angle rounded to float32 before cos/sin).
 */
export function rotaryTables(theta: number, headDim: number, positions: number): { cos: Float32Array; sin: Float32Array } {
  const half = headDim / 2;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  for (let i = 0; i < half; i++) {
    const invFreq = Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim)));
    for (let p = 0; p < positions; p++) {
      const angle = Math.fround(p * invFreq);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin };
}

export interface RotarySpec {
  readonly cos: string;
  readonly sin: string;
  /** false: rotate-half (NeoX) pairs i with i + d/2; true: adjacent pairs (2i, 2i+1). */
  readonly interleaved: boolean;
}

/** The tables as graph weights, for positions below `positions`. */
export function rotary(g: GraphBuilder, theta: number, headDim: number, positions: number, interleaved: boolean, name = "rope"): RotarySpec {
  const { cos, sin } = rotaryTables(theta, headDim, positions);
  return {
    cos: g.weight(`${name}.cos`, cos, [positions, headDim / 2]),
    sin: g.weight(`${name}.sin`, sin, [positions, headDim / 2]),
    interleaved,
  };
}

/** Applies RoPE to x [1, S, heads·headDim] at the given positions [1, S]. */
export function rope(g: GraphBuilder, x: string, positionIds: string, spec: RotarySpec): string {
  return g.op1("RotaryEmbedding", [x, positionIds, spec.cos, spec.sin], { interleaved: spec.interleaved ? 1 : 0 }, "com.microsoft");
}
