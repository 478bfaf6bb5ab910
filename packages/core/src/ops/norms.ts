/** Normalizations over the last axis. */
import type { GraphBuilder } from "../onnx/graph.js";
import type { WeightSource } from "../weights.js";
import { floatWeight } from "./linear.js";

/** RMSNorm: x / sqrt(mean(x²) + eps) · w (no 1+w offset). */
export function rmsNorm(g: GraphBuilder, x: string, weight: WeightSource, eps: number): string {
  return g.op1("SimplifiedLayerNormalization", [x, floatWeight(g, weight)], { axis: -1, epsilon: { float: eps } });
}

/** LayerNorm with affine weight and bias. */
export function layerNorm(g: GraphBuilder, x: string, weight: WeightSource, bias: WeightSource, eps: number): string {
  return g.op1("LayerNormalization", [x, floatWeight(g, weight), floatWeight(g, bias)], { axis: -1, epsilon: { float: eps } });
}

/** RMSNorm applied to every head vector of x [..., heads·headDim]. */
export function perHeadRmsNorm(g: GraphBuilder, x: string, weight: WeightSource, headDim: number, eps: number): string {
  const heads = g.op1("Reshape", [x, g.constant([1, -1, headDim])]);
  const normed = rmsNorm(g, heads, weight, eps);
  return g.op1("Reshape", [normed, g.op1("Shape", [x])]);
}
