/**
 * Where Mimi's weights come from, in either published naming (architecture notes §4.7): transformers'
 * `MimiModel` names, or Kyutai's moshi names (the `tokenizer-*.safetensors` LFM2-Audio ships). The
 * graph asks for every tensor by its transformers name; one table of renames answers in moshi names.
 */
import { statSync } from "node:fs";
import { Checkpoint, LfmkitError, type FindWeight, type WeightSource } from "@lfmkit/core";

export type MimiWeightNaming = "transformers" | "moshi";

export interface MimiCheckpoint {
  readonly naming: MimiWeightNaming;
  /** The folder the checkpoint was opened from; undefined for a single file. */
  readonly folder: string | undefined;
  readonly files: readonly string[];
  /** A tensor by its transformers name. */
  readonly find: FindWeight;
}

/**
 * transformers name → moshi name: every rename whose pattern matches is applied in turn, each to the
 * result of the ones before; `$n` refers to the pattern's groups. The decoder's layers are convolutions
 * or transposed convolutions under the same transformers name, so both moshi names are tried.
 */
const MOSHI_RENAMES: readonly (readonly [RegExp, ...string[]])[] = [
  [/^(encoder|decoder)\.layers\.(\d+)\.conv\.(\w+)$/, "$1.model.$2.conv.conv.$3", "$1.model.$2.convtr.convtr.$3"],
  [/^(encoder|decoder)\.layers\.(\d+)\.(block\.\d+|shortcut)\.conv\.(\w+)$/, "$1.model.$2.$3.conv.conv.$4"],
  [/^downsample\.conv\.weight$/, "downsample.conv.conv.conv.weight"],
  [/^upsample\.conv\.weight$/, "upsample.convtr.convtr.convtr.weight"],
  [/^quantizer\.semantic_residual_vector_quantizer\.(.*)$/, "quantizer.rvq_first.$1"],
  [/^quantizer\.acoustic_residual_vector_quantizer\.(.*)$/, "quantizer.rvq_rest.$1"],
  [/^(quantizer\.\w+)\.layers\.(\d+)\.codebook\.embed_sum$/, "$1.vq.layers.$2._codebook.embedding_sum"],
  [/^(quantizer\.\w+)\.layers\.(\d+)\.codebook\.cluster_usage$/, "$1.vq.layers.$2._codebook.cluster_usage"],
  [/^(encoder|decoder)_transformer\.layers\.(\d+)\.(.*)$/, "$1_transformer.transformer.layers.$2.$3"],
  [/^(.*)\.input_layernorm\.(\w+)$/, "$1.norm1.$2"],
  [/^(.*)\.post_attention_layernorm\.(\w+)$/, "$1.norm2.$2"],
  [/^(.*)\.mlp\.fc1\.weight$/, "$1.linear1.weight"],
  [/^(.*)\.mlp\.fc2\.weight$/, "$1.linear2.weight"],
  [/^(.*)\.self_attn_layer_scale\.scale$/, "$1.layer_scale_1.scale"],
  [/^(.*)\.mlp_layer_scale\.scale$/, "$1.layer_scale_2.scale"],
  [/^(.*)\.self_attn\.o_proj\.weight$/, "$1.self_attn.out_proj.weight"],
];

/** moshi keeps q, k and v as row blocks of one projection, under either of these names. */
const MOSHI_FUSED_QKV = ["self_attn.in_proj_weight", "self_attn.in_projs.0.weight"];
const QKV_PROJECTION = /^(.*)\.self_attn\.(q|k|v)_proj\.weight$/;

/** A folder (config.json + safetensors) or one safetensors file, in either naming. */
export function openMimiCheckpoint(path: string): MimiCheckpoint {
  const folder = statSync(path, { throwIfNoEntry: false })?.isFile() ? undefined : path;
  const checkpoint = folder === undefined ? Checkpoint.openFile(path) : Checkpoint.open(folder);
  const has = (name: string) => checkpoint.has(name);
  const own = (name: string) => checkpoint.source(name);
  if (has("encoder.layers.0.conv.weight")) return { naming: "transformers", folder, files: checkpoint.files, find: own };
  if (!has("encoder.model.0.conv.conv.weight")) {
    throw new LfmkitError("holds no Mimi encoder (neither encoder.layers.0.conv.weight nor encoder.model.0.conv.conv.weight)", path);
  }
  return {
    naming: "moshi",
    folder,
    files: checkpoint.files,
    find: (name) => {
      const moshiName = moshiNameOf(name, has);
      const qkv = QKV_PROJECTION.exec(moshiName);
      if (!qkv) return own(moshiName);
      const fused = MOSHI_FUSED_QKV.map((n) => `${qkv[1]}.${n}`).find(has);
      return fused === undefined ? undefined : rowBlock(own(fused)!, qkv[2] as "q" | "k" | "v");
    },
  };
}

/** Applies every matching rename in turn; where a rename offers several names, the first the checkpoint has. */
function moshiNameOf(name: string, has: (name: string) => boolean): string {
  let current = name;
  for (const [pattern, ...candidates] of MOSHI_RENAMES) {
    if (!pattern.test(current)) continue;
    const options = candidates.map((c) => current.replace(pattern, c));
    current = options.find(has) ?? options[0];
  }
  return current;
}

/**
 * q, k or v of moshi's fused projection [q rows + 2·kv rows, d_model]: q has d_model rows (heads ·
 * head_dim = d_model in moshi), k and v split the rest evenly.
 */
function rowBlock(fused: WeightSource, part: "q" | "k" | "v"): WeightSource {
  const [rows, columns] = fused.shape;
  const kvRows = (rows - columns) / 2;
  const [first, count] = { q: [0, columns], k: [columns, kvRows], v: [columns + kvRows, kvRows] }[part];
  return {
    name: `${fused.name}[${part}]`,
    shape: [count, columns],
    read: () => fused.read().slice(first * columns, (first + count) * columns),
  };
}
