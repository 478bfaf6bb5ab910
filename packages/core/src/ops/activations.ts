/** Element-wise activations, by the names model configs use for them. */
import { LfmkitError } from "../errors.js";
import type { GraphBuilder } from "../onnx/graph.js";

export function silu(g: GraphBuilder, x: string): string {
  return g.op1("Mul", [x, g.op1("Sigmoid", [x])]);
}

/** ELU: x for x > 0, α(eˣ − 1) otherwise. */
export function elu(g: GraphBuilder, x: string, alpha = 1): string {
  return g.op1("Elu", [x], { alpha: { float: alpha } });
}

/** GELU, exact (erf) or tanh-approximated. */
export function gelu(g: GraphBuilder, x: string, approximate: "none" | "tanh" = "none"): string {
  if (approximate === "tanh") return g.op1("FastGelu", [x], {}, "com.microsoft");
  return g.op1("Gelu", [x], {}, "com.microsoft");
}

/** An activation by its transformers name (`hidden_act`, `projector_hidden_act`). */
export function activation(g: GraphBuilder, x: string, name: string): string {
  switch (name) {
    case "gelu":
      return gelu(g, x);
    case "gelu_pytorch_tanh":
    case "gelu_new":
    case "gelu_fast":
      return gelu(g, x, "tanh");
    case "silu":
    case "swish":
      return silu(g, x);
    case "relu":
      return g.op1("Relu", [x]);
    case "elu":
      return elu(g, x);
    default:
      throw new LfmkitError(`unknown activation "${name}" (lfmkit knows gelu, gelu_pytorch_tanh, gelu_new, gelu_fast, silu, swish, relu, elu)`);
  }
}
