#!/usr/bin/env node
import { WEIGHT_FORMATS } from "@lfmkit/core";
import { DEFAULT_MAX_TOKENS } from "@lfmkit/text";
import { Command, Option } from "commander";
import { z } from "zod";
import { runGenerate } from "./generate-command.js";
import { runApp } from "./app-command.js";
import { runDecode, runEncode, runFeatures } from "./audio-commands.js";
import { runHash, runList, runVerify } from "./models-commands.js";
import { runSpeak, runTranscribe } from "./task-commands.js";
import { audioArgsSchema, count, generateArgsSchema } from "./options.js";

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
  .option("--audio <file>", "a WAV for the user message, before its text (repeatable; LFM2-Audio models)", (value: string, previous: string[] = []) => [...previous, value])
  .addOption(new Option("--mode <mode>", "LFM2-Audio loop (default: interleaved with --output-audio, else sequential)").choices(["interleaved", "sequential"]))
  .option("--output-audio <file>", "write the spoken answer to this WAV (LFM2-Audio models)")
  .option("--codec <path>", "Mimi checkpoint for speech (default: tokenizer-*.safetensors beside the model)")
  .option("--audio-temperature <t>", "audio code sampling temperature (default 1.0; 0 when --temperature is 0)")
  .option("--audio-top-k <k>", "audio code top-k (default 4)")
  .option("--max-tokens <n>", "most tokens to generate (LFM2-Audio: steps, text tokens and audio frames alike)", String(DEFAULT_MAX_TOKENS))
  .option("--ignore-eos", "generate past end-of-sequence tokens, up to --max-tokens")
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

const audio = program.command("audio").description("the audio parts on their own: the Mimi codec, the log-mel + conformer encoder");
const common = (command: Command) =>
  command
    .addOption(new Option("--weight-format <format>", "how linear weights are stored").choices(WEIGHT_FORMATS).default("f32"))
    .option("--threads <n>", "ONNX Runtime intra-op threads")
    .option("--cache-dir <dir>", "where built graphs are cached")
    .option("--json", "print one JSON object")
    .option("--verbose", "print stack traces on errors");
common(
  audio
    .command("encode")
    .description("a WAV to Mimi codes")
    .requiredOption("--model <path>", "Mimi checkpoint: a folder or a .safetensors file (HF or moshi names)")
    .requiredOption("--input <wav>", "the audio (resampled to the codec's rate)")
    .option("--codebooks <n>", "codebooks to use (LFM2-Audio: 8; default all)"),
).action((options: Record<string, unknown>) => runEncode(parseArgs(audioArgsSchema.extend({ input: z.string().min(1), codebooks: count.optional() }), options)));
common(
  audio
    .command("decode")
    .description("Mimi codes to a WAV")
    .requiredOption("--model <path>", "Mimi checkpoint: a folder or a .safetensors file")
    .requiredOption("--codes <file>", 'JSON codes, [codebooks][frames] or {"codes": …} as encode --json prints')
    .requiredOption("--output <wav>", "where to write the audio"),
).action((options: Record<string, unknown>) => runDecode(parseArgs(audioArgsSchema.extend({ codes: z.string().min(1), output: z.string().min(1) }), options)));
common(
  audio
    .command("features")
    .description("a WAV through the log-mel front end and the FastConformer encoder: shape and timings")
    .requiredOption("--model <dir>", "a conformer folder, or an LFM2-Audio folder")
    .requiredOption("--input <wav>", "the audio"),
).action((options: Record<string, unknown>) => runFeatures(parseArgs(audioArgsSchema.extend({ input: z.string().min(1) }), options)));

common(
  program
    .command("transcribe")
    .description("speech to text with an LFM2-Audio model (\"Perform ASR.\")")
    .argument("<files...>", "WAV files")
    .requiredOption("--model <dir>", "LFM2-Audio folder")
    .option("--max-tokens <n>", "most steps per file", "512"),
).action((files: string[], options: Record<string, unknown>) =>
  runTranscribe(parseArgs(audioArgsSchema.extend({ files: z.array(z.string().min(1)).min(1), maxTokens: count }), { ...options, files })),
);
common(
  program
    .command("speak")
    .description("text to speech with an LFM2-Audio model (\"Perform TTS.\")")
    .requiredOption("--model <dir>", "LFM2-Audio folder")
    .requiredOption("--text <text>", "what to say")
    .requiredOption("--output <wav>", "where to write the speech")
    .option("--codec <path>", "Mimi checkpoint (default: tokenizer-*.safetensors beside the model)")
    .option("--seed <s>", "random seed for the audio codes")
    .addOption(new Option("--mode <mode>", "generation loop (liquid-audio's TTS: sequential)").choices(["sequential", "interleaved"]).default("sequential"))
    .option("--max-tokens <n>", "most steps", "1024"),
).action((options: Record<string, unknown>) =>
  runSpeak(
    parseArgs(
      audioArgsSchema.extend({
        text: z.string().min(1),
        output: z.string().min(1),
        codec: z.string().min(1).optional(),
        seed: z.coerce.number().int().optional(),
        mode: z.enum(["sequential", "interleaved"]),
        maxTokens: count,
      }),
      options,
    ),
  ),
);

const models = program.command("models").description("the supported models: their manifests, and a download checked against one");
models
  .command("list")
  .description("the supported models and where to get them")
  .option("--json", "print one JSON array")
  .action((options: Record<string, unknown>) => runList({ json: Boolean(options.json) }));
models
  .command("verify")
  .description("check a model folder's files against its manifest (sizes, sha256)")
  .argument("<dir>", "the model folder")
  .option("--manifest <name>", "the manifest to check against (default: the one named like the folder)")
  .option("--json", "print one JSON object")
  .option("--verbose", "print stack traces on errors")
  .action((dir: string, options: Record<string, unknown>) => runVerify(parseArgs(z.object({ dir: z.string().min(1), manifest: z.string().optional(), json: z.boolean().default(false), verbose: z.boolean().default(false) }), { ...options, dir })));
models
  .command("hash")
  .description("print a folder's files with sizes and sha256, for a manifest")
  .argument("<dir>", "the model folder")
  .action((dir: string) => runHash({ dir }));

const delegate = (name: string, description: string, entry: string, prefix: string[] = []) =>
  program
    .command(name)
    .description(description)
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => runApp(entry, [...prefix, ...process.argv.slice(3)]));
delegate("serve", "serve a model: an OpenAI-compatible API and the web playground (lfm serve --help)", "@lfmkit/playground/main");
delegate("batch", "run a JSONL file of chat jobs, here or through a Redis queue (lfm batch --help)", "@lfmkit/batch/main");
delegate("worker", "take batch jobs from a Redis queue and run them (lfm worker --help)", "@lfmkit/batch/main", ["worker"]);

let verbose = false;

function parseArgs<T extends z.ZodType>(schema: T, options: Record<string, unknown>): z.output<T> {
  verbose = Boolean(options.verbose);
  const parsed = schema.safeParse(options);
  if (!parsed.success) throw new Error(describeIssues(parsed.error));
  return parsed.data;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${i.message}` : i.message)).join("; ");
}

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`lfm: ${verbose && error instanceof Error ? error.stack : message.split("\n")[0]}\n`);
  process.exitCode = 1;
});
