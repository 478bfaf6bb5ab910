/**
 * LFM2-MoE feed-forward (architecture notes §2.3):
 *
 *   s   = sigmoid(x Gᵀ)                          router scores, one per expert
 *   idx = top_k(s + expert_bias)                  the bias only chooses
 *   w   = s[idx] / (Σ s[idx] + 1e-6) · scaling    weights use the unbiased scores
 *         (without norm_topk_prob: w = s[idx] · scaling)
 *   y   = Σ_j w_j · SwiGLU_{idx_j}(x)
 *
 * The experts run sparsely: each reads its weights only when some row chose it.
 */
import { GraphBuilder, ops, type Weights } from "@lfmkit/core";
import type { MoeConfig } from "./config.js";

export function moeFeedForward(g: GraphBuilder, x: string, w: Weights, moe: MoeConfig): string {
  const router = w.required("gate.weight");
  const [, hidden] = router.shape;
  const rows = g.op1("Reshape", [x, g.constant([-1, hidden])]);
  const scores = g.op1("Sigmoid", [g.op1("Gemm", [rows, ops.floatWeight(g, router)], { transB: 1 })]);
  const bias = moe.useExpertBias ? w.optional("expert_bias") : undefined;
  const choice = bias ? g.op1("Add", [scores, ops.floatWeight(g, bias)]) : scores;
  const [, chosen] = g.op("TopK", [choice, g.constant([moe.expertsPerToken])], { axis: -1 }, { outputs: 2 });

  let routed = g.op1("GatherElements", [scores, chosen], { axis: 1 });
  if (moe.normTopkProb) {
    const total = g.op1("ReduceSum", [routed, g.constant([1])], { keepdims: 1 });
    routed = g.op1("Div", [routed, g.op1("Add", [total, g.scalar(1e-6, "float32")])]);
  }
  if (moe.routedScalingFactor !== 1) routed = g.op1("Mul", [routed, g.scalar(moe.routedScalingFactor, "float32")]);
  const weights = g.op1("ScatterElements", [g.op1("Mul", [scores, g.scalar(0, "float32")]), chosen, routed], { axis: 1 }); // [N, E]

  const experts = Array.from({ length: moe.experts }, (_, e) => ({
    gate: w.linear(`experts.${e}.w1`),
    up: w.linear(`experts.${e}.w3`),
    down: w.linear(`experts.${e}.w2`),
  }));
  const y = ops.sparseExperts(g, rows, weights, experts, moe.expertsPerToken);
  return g.op1("Reshape", [y, g.op1("Shape", [x])]);
}
