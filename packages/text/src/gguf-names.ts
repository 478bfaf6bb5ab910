/** Hugging Face tensor names (relative to the decoder, `lm_head.weight` as is) ↔ llama.cpp GGUF names (architecture notes §6.2). */
const NAMES: [hf: string, gguf: string][] = [
  ["embed_tokens.weight", "token_embd.weight"],
  ["embedding_norm.weight", "token_embd_norm.weight"],
  ["lm_head.weight", "output.weight"],
  ["layers.{i}.operator_norm.weight", "blk.{i}.attn_norm.weight"],
  ["layers.{i}.ffn_norm.weight", "blk.{i}.ffn_norm.weight"],
  ["layers.{i}.conv.in_proj.weight", "blk.{i}.shortconv.in_proj.weight"],
  ["layers.{i}.conv.conv.weight", "blk.{i}.shortconv.conv.weight"],
  ["layers.{i}.conv.out_proj.weight", "blk.{i}.shortconv.out_proj.weight"],
  ["layers.{i}.self_attn.q_proj.weight", "blk.{i}.attn_q.weight"],
  ["layers.{i}.self_attn.k_proj.weight", "blk.{i}.attn_k.weight"],
  ["layers.{i}.self_attn.v_proj.weight", "blk.{i}.attn_v.weight"],
  ["layers.{i}.self_attn.out_proj.weight", "blk.{i}.attn_output.weight"],
  ["layers.{i}.self_attn.q_layernorm.weight", "blk.{i}.attn_q_norm.weight"],
  ["layers.{i}.self_attn.k_layernorm.weight", "blk.{i}.attn_k_norm.weight"],
  ["layers.{i}.feed_forward.w1.weight", "blk.{i}.ffn_gate.weight"],
  ["layers.{i}.feed_forward.w3.weight", "blk.{i}.ffn_up.weight"],
  ["layers.{i}.feed_forward.w2.weight", "blk.{i}.ffn_down.weight"],
  ["layers.{i}.feed_forward.gate.weight", "blk.{i}.ffn_gate_inp.weight"],
  ["layers.{i}.feed_forward.expert_bias", "blk.{i}.exp_probs_b.bias"],
];

const toPattern = (template: string) => new RegExp(`^${template.replace(/\./g, "\\.").replace("{i}", "(\\d+)")}$`);
const HF_TO_GGUF = NAMES.map(([hf, gguf]) => [toPattern(hf), gguf.replace("{i}", "$1")] as const);
const EXPERT = /^layers\.(\d+)\.feed_forward\.experts\.(\d+)\.(w1|w2|w3)\.weight$/;
const STACKED = { w1: "ffn_gate_exps", w3: "ffn_up_exps", w2: "ffn_down_exps" } as const;

/** The GGUF tensor (and, for an expert, its slice along the stacked expert axis) holding an HF tensor. */
export function ggufTensorFor(hfName: string): { name: string; expert?: number } | undefined {
  const expert = EXPERT.exec(hfName);
  if (expert) return { name: `blk.${expert[1]}.${STACKED[expert[3] as keyof typeof STACKED]}.weight`, expert: Number(expert[2]) };
  const rule = HF_TO_GGUF.find(([pattern]) => pattern.test(hfName));
  return rule ? { name: hfName.replace(rule[0], rule[1]) } : undefined;
}
