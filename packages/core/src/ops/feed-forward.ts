/** Position-wise feed-forward blocks. */
import type { GraphBuilder } from "../onnx/graph.js";
import type { LinearSpec } from "../weights.js";
import { activation, silu } from "./activations.js";
import { linear } from "./linear.js";

/** SwiGLU: down( silu(gate x) ⊙ up x ). */
export function swiglu(g: GraphBuilder, x: string, gate: LinearSpec, up: LinearSpec, down: LinearSpec): string {
  return linear(g, g.op1("Mul", [silu(g, linear(g, x, gate)), linear(g, x, up)]), down);
}

/** Two-layer MLP: second( act(first x) ), the activation named as in the config. */
export function mlp(g: GraphBuilder, x: string, first: LinearSpec, second: LinearSpec, act: string): string {
  return linear(g, activation(g, linear(g, x, first), act), second);
}
