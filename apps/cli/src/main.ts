#!/usr/bin/env node
import { WEIGHT_FORMATS } from "@lfmkit/core";
import { DEFAULT_MAX_TOKENS } from "@lfmkit/text";
import { Command, Option } from "commander";
import { z } from "zod";
import { runGenerate } from "./generate-command.js";
import { serve } from "./serve-command.js";
import { generateArgsSchema } from "./options.js";

const program = new Command()
  .name("lfm")
  .description("Run Liquid AI LFM2 models locally with ONNX Runtime")
  .showHelpAfterError();

program
  .command("generate")
  .description("generate text from a prompt")
  .requiredOption("--model <dir>", "Hugging Face model folder (config.json, *.safetensors, tokenizer.json) or GGUF file")
  .option("--prompt <text>", "one user message, through the model's chat template")
  .option("--raw <text>", "text tokenized as is (BOS added as the tokenizer says)")
  .option("--prompt-ids <ids>", "comma-separated token ids, no tokenization")
  .option("--system <text>", "system message (with --prompt)")
  .option("--image <file>", "an image for the user message, before its text (repeatable; LFM2-VL models)", (value: string, previous: string[] = []) => [...previous, value])
  .option("--max-image-tokens <n>", "most tokens per image or tile (default: the model's processor_config.json)")
  .option("--min-image-tokens <n>", "fewest tokens per image or tile")
  .option("--max-tiles <n>", "most tiles a large image is split into")
  .option("--no-tiling", "never split large images into tiles (one downscaled view)")
  .option("--max-tokens <n>", "most tokens to generate", String(DEFAULT_MAX_TOKENS))
  .option("--temperature <t>", "0 = greedy (default: generation_config.json, else 0.3)")
  .option("--top-k <k>", "keep the k most likely tokens (0 = off)")
  .option("--top-p <p>", "nucleus sampling mass")
  .option("--min-p <p>", "drop tokens below p × the top probability (default 0.15 when sampling)")
  .option("--repetition-penalty <r>", "penalize tokens already seen (default 1.05 when sampling)")
  .option("--seed <s>", "random seed for sampling")
  .addOption(new Option("--weight-format <format>", "how linear weights are stored: float32, or 8/4-bit blocks").choices(WEIGHT_FORMATS).default("f32"))
  .option("--threads <n>", "ONNX Runtime intra-op threads")
  .option("--cache-dir <dir>", "where built graphs are cached (default: $LFMKIT_CACHE_DIR or ~/.cache/lfmkit)")
  .option("--json", "print one JSON object with ids, text, usage and timings")
  .option("--verbose", "print stack traces on errors")
  .action(async (options: Record<string, unknown>) => {
    verbose = Boolean(options.verbose);
    const parsed = generateArgsSchema.safeParse(options);
    if (!parsed.success) throw new Error(describeIssues(parsed.error));
    await runGenerate(parsed.data);
  });

program
  .command("serve")
  .description("serve a model: an OpenAI-compatible API and the web playground (lfm serve --help)")
  .helpOption(false)
  .allowUnknownOption()
  .allowExcessArguments()
  .action(() => serve(process.argv.slice(3)));

let verbose = false;

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}` : i.message)).join("; ");
}

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`lfm: ${verbose && error instanceof Error ? error.stack : message.split("\n")[0]}\n`);
  process.exitCode = 1;
});
