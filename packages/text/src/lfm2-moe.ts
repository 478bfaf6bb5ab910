/**
 * LFM2-MoE feed-forward (architecture notes §2.3):
 *
 *   s   = sigmoid(x Gᵀ)                          router scores, one per expert
 *   idx = top_k(s + expert_bias)                  the bias only chooses
 *   w   = s[idx] / (Σ s[idx] + 1e-6) · scaling    weights use the unbiased scores
 *         (without norm_topk_prob: w = s[idx] · scaling)
 *   y   = Σ_j w_j · SwiGLU_{idx_j}(x)
 *
 * The experts run in ORT's `MoE` kernel, which reads only the chosen experts' weights per token.
 * Its own routing is a softmax over the logits it is given, so it is handed log(s) on the chosen
 * experts and -inf elsewhere, which yields weights s / Σ s; the per-token factor that turns those
 * into the reference's weights is applied to the output, where it distributes over the sum.
 */
import { GraphBuilder, ops, type WeightFormat } from "@lfmkit/core";
import type { MoeConfig } from "./config.js";
import type { OptionalWeightLookup, WeightLookup } from "./lfm2.js";

export function moeFeedForward(
  g: GraphBuilder,
  x: string,
  moe: MoeConfig,
  prefix: string,
  weight: WeightLookup,
  optionalWeight: OptionalWeightLookup,
  format: WeightFormat,
): string {
  const router = weight(`${prefix}.gate.weight`);
  const [, hidden] = router.shape;
  const rows = g.op1("Reshape", [x, g.constant([-1, hidden])]);
  const scores = g.op1("Sigmoid", [g.op1("Gemm", [rows, ops.floatWeight(g, router)], { transB: 1 })]);
  const bias = moe.useExpertBias ? optionalWeight(`${prefix}.expert_bias`) : undefined;
  const choice = bias ? g.op1("Add", [scores, ops.floatWeight(g, bias)]) : scores;
  const [, chosen] = g.op("TopK", [choice, g.constant([moe.expertsPerToken])], { axis: -1 }, { outputs: 2 });
  const chosenScores = g.op1("GatherElements", [scores, chosen], { axis: 1 });
  const everywhereElse = g.op1("Expand", [g.scalar(-Infinity, "float32"), g.op1("Shape", [scores])]);
  const routerLogits = g.op1("ScatterElements", [everywhereElse, chosen, g.op1("Log", [chosenScores])], { axis: 1 });
  const experts = ops.expertWeights(g, moe.experts, (e, w) => weight(`${prefix}.experts.${e}.${w}.weight`), format);
  const mixed = ops.mixtureOfExperts(g, rows, routerLogits, experts, moe.expertsPerToken);

  const total = g.op1("ReduceSum", [chosenScores, g.constant([1])], { keepdims: 1 });
  let factor = moe.normTopkProb ? g.op1("Div", [total, g.op1("Add", [total, g.scalar(1e-6, "float32")])]) : total;
  if (moe.routedScalingFactor !== 1) factor = g.op1("Mul", [factor, g.scalar(moe.routedScalingFactor, "float32")]);
  const y = g.op1("Mul", [mixed, factor]);
  return g.op1("Reshape", [y, g.op1("Shape", [x])]);
}
