#!/usr/bin/env node
/**
 * `pnpm bench:prefix` — prefix reuse over a 20-turn conversation, on the playground's chat path
 * (`loadModel` from @lfmkit/pipeline), with the demo model (models/lfmkit-demo) and with the
 * LFM2-350M shape (a synthetic checkpoint as `pnpm bench` writes it, exported to GGUF with a synthetic
 * vocabulary and the demo's chat template). The demo's decoder is so small that a turn is mostly
 * template, tokenizer and graph overhead; the 350M shape is the size of the smallest released LFM2.
 * Greedy, each turn sending the whole history (system prompt, every earlier question and answer, the
 * new question). Measured per turn, with the default `prefixCacheBytes`
 * (reuse: the turn prefills only what follows the kept state of the last answer) and with
 * `prefixCacheBytes: 0` (the whole history re-prefilled): time to first token, from the chat() call
 * to the first streamed token (template, tokenization, prefix lookup, prefill, first
 * sample). The peer is the full re-prefill of the same history.
 *
 * Acceptance: turn 20 ≤ 1.3 × turn 2 with reuse, while the re-prefill grows with the history; the
 * answers must be identical with and without reuse (asserted: a difference is reported and the
 * process exits non-zero after writing the results).
 *
 * Each (model, mode, repetition) is a fresh child process (one untimed warm-up answer, then the
 * conversation); modes alternate; per-turn medians over `--reps` (`--large-reps` for the 350M shape).
 *
 * Then what the history itself costs the decoder, without the chat path around it: the same new
 * tokens prefilled after a short and after a long kept history (a turn-2 and a turn-20 state),
 * alternately, the state rewound to its mark after each, on the demo model's decoder and on the
 * LFM2-350M shape (a synthetic checkpoint, as `pnpm bench` writes it). Attention over the history is
 * the part of a turn that has to grow with it; how much it weighs depends on the model's size.
 * Writes results/prefix.json.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel, type Message } from "@lfmkit/pipeline";
import { exportGguf, TextModel } from "@lfmkit/text";
import { folderVocabulary } from "@lfmkit/tokenizer";
import { Command } from "commander";
import { z } from "zod";
import { BENCH_ROOT, DEFAULT_WORK, against, answer, childSpec, fixed, gb, median, printTable, random, runChild, verdict, writeResults } from "./harness.js";
import { SHAPE_VOCAB, syntheticTokenizerMetadata, writeSyntheticCheckpoint } from "./synthetic.js";

const SCRIPT = fileURLToPath(import.meta.url);
const ACCEPT_TURN20_OVER_TURN2 = 1.3;
/** New tokens in the decoder-only measurement: about one question of the conversation. */
const HISTORY_NEW_TOKENS = 20;

const SYSTEM =
  "You are the lfmkit demo assistant, a small dictionary that runs entirely on this computer. " +
  "When someone asks what a word means, give the word, its part of speech in parentheses, and one short " +
  "definition of its most common sense, in a single sentence. Keep answers brief and plain; do not add " +
  "examples, synonyms, or etymology unless asked. If you are shown a picture of simple shapes, name each " +
  "shape with its color and where it sits in the picture. Earlier questions in this conversation are " +
  "independent of the new one: answer only the latest question.";

/** Questions beyond the demo model's reference.json ones, in the same styles. */
const GENERIC_QUESTIONS = [
  "Define mountain.",
  "What does “river” mean?",
  "What is a piano?",
  "Define happiness.",
  "What does “bridge” mean?",
  "What is a garden?",
  "Define library.",
  "What does “winter” mean?",
  "What is a candle?",
  "Define friendship.",
  "What does “forest” mean?",
  "What is a telescope?",
  "Define journey.",
  "What does “harbor” mean?",
  "What is a lantern?",
];

interface Spec {
  kind: "conversation";
  model: string;
  threads: number;
  reuse: boolean;
  system: string;
  questions: string[];
  maxTokens: number;
}

interface Turn {
  timeToFirstTokenMs: number;
  libraryTimeToFirstTokenMs: number;
  prefillMs: number;
  totalMs: number;
  promptTokens: number;
  cachedPromptTokens: number;
  ids: number[];
  text: string;
}

interface HistorySpec {
  kind: "history";
  model: string;
  weightFormat: "f32" | "q8" | "q4";
  threads: number;
  /** Kept positions before the new tokens, e.g. a turn-2 and a turn-20 state. */
  histories: number[];
  newTokens: number;
  reps: number;
}

/** Median ms to prefill the same `newTokens` after each history, measured alternately. */
async function historyChild(spec: HistorySpec): Promise<void> {
  const model = await TextModel.load(spec.model, { weightFormat: spec.weightFormat, threads: spec.threads });
  const next = random(7);
  const ids = (n: number) => Array.from({ length: n }, () => 16 + Math.floor(next() * (model.config.vocabSize - 16)));
  const kept = [];
  for (const history of spec.histories) {
    const state = model.newState();
    await model.forward(state, ids(history));
    kept.push({ state, mark: state.mark() });
  }
  const fresh = ids(spec.newTokens);
  const ms: number[][] = spec.histories.map(() => []);
  for (let rep = -2; rep < spec.reps; rep++) {
    for (const [i, { state, mark }] of kept.entries()) {
      const start = performance.now();
      await model.forward(state, fresh);
      if (rep >= 0) ms[i].push(performance.now() - start);
      state.rewind(mark);
    }
  }
  await model.dispose();
  answer({ ms: ms.map(median) });
}

async function child(spec: Spec): Promise<void> {
  const chat = await loadModel(spec.model, { threads: spec.threads, ...(spec.reuse ? {} : { prefixCacheBytes: 0 }) });
  for await (const _ of chat.chat([{ role: "user", content: "Define warm." }], { temperature: 0, maxTokens: 8 })); // warm-up, not timed
  const history: Message[] = [{ role: "system", content: spec.system }];
  const turns: Turn[] = [];
  for (const question of spec.questions) {
    history.push({ role: "user", content: question });
    const start = performance.now();
    let first: number | undefined;
    let turn: Turn | undefined;
    for await (const event of chat.chat(history, { temperature: 0, maxTokens: spec.maxTokens })) {
      first ??= performance.now() - start;
      if (event.type === "done") {
        turn = {
          timeToFirstTokenMs: first,
          libraryTimeToFirstTokenMs: event.timings.timeToFirstTokenMs,
          prefillMs: event.timings.prefillMs,
          totalMs: performance.now() - start,
          promptTokens: event.usage.promptTokens,
          cachedPromptTokens: event.usage.cachedPromptTokens,
          ids: event.ids,
          text: event.text,
        };
      }
    }
    turns.push(turn!);
    history.push({ role: "assistant", content: turn!.text });
  }
  const keptBytes = chat.keptBytes;
  await chat.dispose();
  answer({ turns, keptBytes });
}

/** A model the conversation is measured on. */
interface Subject {
  label: string;
  model: string;
  reps: number;
  maxTokens: number;
}

interface RunResult {
  turns: Turn[];
  keptBytes: number;
  peakRssBytes: number;
}

/** The conversation with and without reuse, each (mode, repetition) a fresh process, modes alternating; per-turn medians. */
function measureConversation(subject: Subject, questions: string[], threads: number, cacheDir: string) {
  const runs: Record<"reuse" | "full", RunResult[]> = { reuse: [], full: [] };
  for (let rep = 0; rep < subject.reps; rep++) {
    for (const mode of ["reuse", "full"] as const) {
      process.stderr.write(`prefix: ${subject.label}, ${mode} conversation ${rep + 1}/${subject.reps}\n`);
      const spec: Spec = { kind: "conversation", model: subject.model, threads, reuse: mode === "reuse", system: SYSTEM, questions, maxTokens: subject.maxTokens };
      runs[mode].push(runChild(SCRIPT, spec, cacheDir));
    }
  }
  const all = [...runs.reuse, ...runs.full];
  const turns = questions.map((question, i) => {
    const at = (mode: "reuse" | "full", pick: (t: Turn) => number) => median(runs[mode].map((r) => pick(r.turns[i])));
    const answers = all.map((r) => r.turns[i].ids.join(","));
    const identical = answers.every((a) => a === answers[0]);
    return {
      turn: i + 1,
      question,
      promptTokens: runs.full[0].turns[i].promptTokens,
      cachedPromptTokensWithReuse: median(runs.reuse.map((r) => r.turns[i].cachedPromptTokens)),
      answerTokens: runs.full[0].turns[i].ids.length,
      timeToFirstTokenMs: { reuse: +at("reuse", (t) => t.timeToFirstTokenMs).toFixed(2), full: +at("full", (t) => t.timeToFirstTokenMs).toFixed(2) },
      prefillMs: { reuse: +at("reuse", (t) => t.prefillMs).toFixed(2), full: +at("full", (t) => t.prefillMs).toFixed(2) },
      /** Outside the library's own time to first token: template, tokenization, prefix lookup, the embedding rows (vision-language models), and streaming the first token out. */
      beforePrefillMs: {
        reuse: +at("reuse", (t) => t.timeToFirstTokenMs - t.libraryTimeToFirstTokenMs).toFixed(2),
        full: +at("full", (t) => t.timeToFirstTokenMs - t.libraryTimeToFirstTokenMs).toFixed(2),
      },
      identical,
      answer: runs.full[0].turns[i].text,
      ...(identical ? {} : { answersWithReuse: runs.reuse.map((r) => r.turns[i].text), answersWithoutReuse: runs.full.map((r) => r.turns[i].text) }),
    };
  });
  const [second, last] = [turns[1], turns.at(-1)!];
  const fullGrowth = last.timeToFirstTokenMs.full / second.timeToFirstTokenMs.full;
  return {
    ...subject,
    acceptance: {
      reuseTurnLastOverTurn2: against(last.timeToFirstTokenMs.reuse / second.timeToFirstTokenMs.reuse, ACCEPT_TURN20_OVER_TURN2, "max"),
      fullTurnLastOverTurn2: { value: +fullGrowth.toFixed(3), promptTokensRatio: +(last.promptTokens / second.promptTokens).toFixed(3), grows: fullGrowth > 1 },
      reuseOverFullAtLastTurn: +(last.timeToFirstTokenMs.reuse / last.timeToFirstTokenMs.full).toFixed(3),
      outputsIdentical: turns.every((t) => t.identical),
    },
    keptBytesAfterConversation: gb(median(runs.reuse.map((r) => r.keptBytes))),
    peakRssGB: { reuse: gb(median(runs.reuse.map((r) => r.peakRssBytes))), full: gb(median(runs.full.map((r) => r.peakRssBytes))) },
    turns,
  };
}

type Conversation = ReturnType<typeof measureConversation>;

function printConversation({ label, reps, acceptance, turns }: Conversation): void {
  const [second, last] = [turns[1], turns.at(-1)!];
  console.log(`\nprefix reuse, ${label}, ${turns.length} turns, medians of ${reps} conversations per mode`);
  printTable([
    ["turn", "prompt tok", "cached tok", "TTFT reuse ms", "(before / prefill)", "TTFT re-prefill ms", "(before / prefill)", "re-prefill ÷ reuse", "same answer"],
    ...turns.map((t) => [
      String(t.turn),
      String(t.promptTokens),
      fixed(t.cachedPromptTokensWithReuse, 0),
      fixed(t.timeToFirstTokenMs.reuse, 2),
      `${fixed(t.beforePrefillMs.reuse)} / ${fixed(t.prefillMs.reuse)}`,
      fixed(t.timeToFirstTokenMs.full, 2),
      `${fixed(t.beforePrefillMs.full)} / ${fixed(t.prefillMs.full)}`,
      fixed(t.timeToFirstTokenMs.full / t.timeToFirstTokenMs.reuse, 2),
      t.identical ? "yes" : "NO",
    ]),
  ]);
  const growth = acceptance.fullTurnLastOverTurn2;
  console.log(`  reuse: turn ${last.turn} ÷ turn 2 = ${verdict(acceptance.reuseTurnLastOverTurn2, "max")}`);
  console.log(`  re-prefill: turn ${last.turn} ÷ turn 2 = ${growth.value.toFixed(2)} (prompt ${second.promptTokens} → ${last.promptTokens} tokens) — ${growth.grows ? "grows" : "does NOT grow"} with the history`);
  console.log(`  outputs identical with and without reuse: ${acceptance.outputsIdentical ? "yes (all turns, all runs)" : `NO (turns ${turns.filter((t) => !t.identical).map((t) => t.turn).join(", ")})`}`);
}

async function main(): Promise<void> {
  const program = new Command()
    .name("bench:prefix")
    .option("--model <dir>", "the model folder", join(BENCH_ROOT, "..", "..", "models", "lfmkit-demo"))
    .option("--reps <n>", "conversations per mode on the demo model (per-turn medians)", "3")
    .option("--large-reps <n>", "conversations per mode on the LFM2-350M shape (0: skip it)", "3")
    .option("--threads <n>", "ONNX Runtime intra-op threads", "2")
    .option("--turns <n>", "conversation turns", "20")
    .option("--max-tokens <n>", "longest answer of the demo model", "64")
    .option("--large-max-tokens <n>", "longest answer of the LFM2-350M shape (random weights: it always runs to the limit)", "32")
    .option("--cache-dir <dir>", "graph cache (default: the library's)")
    .option("--work <dir>", "where the synthetic LFM2-350M checkpoint is written", DEFAULT_WORK)
    .option("--history-reps <n>", "prefills per history in the decoder-only measurement (medians)", "30");
  program.parse();
  const args = z
    .object({
      model: z.string(),
      reps: z.coerce.number().int().positive(),
      largeReps: z.coerce.number().int().min(0),
      threads: z.coerce.number().int().positive(),
      turns: z.coerce.number().int().min(2),
      maxTokens: z.coerce.number().int().positive(),
      largeMaxTokens: z.coerce.number().int().positive(),
      cacheDir: z.string().optional(),
      work: z.string(),
      historyReps: z.coerce.number().int().positive(),
    })
    .parse(program.opts());
  const started = performance.now();
  const reference = JSON.parse(readFileSync(join(args.model, "reference.json"), "utf8")) as { samples: { prompt: string; image?: string }[] };
  const questions = [...reference.samples.filter((s) => !s.image).map((s) => s.prompt), ...GENERIC_QUESTIONS];
  while (questions.length < args.turns) questions.push(...GENERIC_QUESTIONS);
  questions.length = args.turns;
  const cacheDir = args.cacheDir ?? process.env.LFMKIT_CACHE_DIR ?? join(process.env.HOME ?? "/tmp", ".cache", "lfmkit");
  const synthetic350m = writeSyntheticCheckpoint("lfm2-350m", args.work);

  const subjects: Subject[] = [{ label: `${basename(args.model)} (the playground's default)`, model: args.model, reps: args.reps, maxTokens: args.maxTokens }];
  if (args.largeReps > 0) {
    // Random weights and a synthetic vocabulary: the answers are noise whose text tokenizes back differently,
    // so each turn also re-prefills the previous answer (from the mark the state kept after its prompt).
    const template = folderVocabulary(args.model).chatTemplate;
    if (template === undefined) throw new Error(`${args.model} has no chat template for the LFM2-350M conversation`);
    const name = `lfm2-350m-chat-${createHash("sha256").update(template).digest("hex").slice(0, 12)}-Q4_0.gguf`; // another template, another file
    const gguf = exportGguf(synthetic350m, join(args.work, name), "Q4_0", syntheticTokenizerMetadata(SHAPE_VOCAB, template));
    subjects.push({ label: "LFM2-350M shape (synthetic, GGUF Q4_0, the demo's chat template)", model: gguf, reps: args.largeReps, maxTokens: args.largeMaxTokens });
  }
  const conversations = subjects.map((subject) => measureConversation(subject, questions, args.threads, cacheDir));
  const demoTurns = conversations[0].turns;

  const histories = [demoTurns[1].cachedPromptTokensWithReuse, demoTurns.at(-1)!.cachedPromptTokensWithReuse];
  const decoders = [
    { label: "demo model's decoder", model: args.model, weightFormat: "f32" as const },
    { label: "LFM2-350M shape (synthetic)", model: synthetic350m, weightFormat: "q4" as const },
  ];
  const historyCost = decoders.map(({ label, model, weightFormat }) => {
    process.stderr.write(`prefix: ${HISTORY_NEW_TOKENS} new tokens after ${histories.join(" and ")} kept positions, ${label} ${weightFormat}\n`);
    const spec: HistorySpec = { kind: "history", model, weightFormat, threads: args.threads, histories, newTokens: HISTORY_NEW_TOKENS, reps: args.historyReps };
    const { ms } = runChild<{ ms: number[] }>(SCRIPT, spec, cacheDir);
    return { decoder: label, weightFormat, keptPositions: histories, newTokens: HISTORY_NEW_TOKENS, prefillMs: ms.map((x) => +x.toFixed(2)), longOverShort: +(ms[1] / ms[0]).toFixed(3) };
  });

  const summary = {
    date: new Date().toISOString(),
    threads: args.threads,
    systemPrompt: SYSTEM,
    peer: "the same conversation with prefixCacheBytes: 0 (every turn re-prefills the whole history)",
    method:
      "each (model, mode, rep) a fresh process: loadModel, one untimed warm-up answer, then the conversation, greedy; time to first token = chat() call → first streamed event; per-turn medians",
    acceptance: Object.fromEntries(
      conversations.map((c) => [c.label, { [`reuse turn ${c.turns.length} ÷ turn 2 (≤ ${ACCEPT_TURN20_OVER_TURN2})`]: c.acceptance.reuseTurnLastOverTurn2, outputsIdentical: c.acceptance.outputsIdentical }]),
    ),
    conversations,
    decoderHistoryCost: {
      method: `the same ${HISTORY_NEW_TOKENS} token ids prefilled after the demo conversation's turn-2 and turn-${demoTurns.length} kept positions, alternately, the state rewound to its mark after each; median of ${args.historyReps}; no template, tokenizer or sampling`,
      runs: historyCost,
    },
    wallSeconds: Math.round((performance.now() - started) / 1000),
  };
  writeResults("prefix", summary);

  conversations.forEach(printConversation);
  console.log("(before: the time to first token outside the library's own — template, tokenization, prefix lookup, embedding rows of vision-language models, streaming the first token out; prefill: the decoder to the first logits)");
  console.log(`\nthe decoder alone: ${HISTORY_NEW_TOKENS} new tokens after a turn-2 and a turn-${demoTurns.length} history (median of ${args.historyReps})`);
  printTable([
    ["decoder", "format", ...histories.map((h) => `after ${h} ms`), "long ÷ short"],
    ...historyCost.map((h) => [h.decoder, h.weightFormat, ...h.prefillMs.map((ms) => fixed(ms, 2)), fixed(h.longOverShort, 2)]),
  ]);
  console.log(`\nwrote results/prefix.json (${summary.wallSeconds} s)`);
  if (!conversations.every((c) => c.acceptance.outputsIdentical)) process.exitCode = 1;
}

const spec = childSpec<Spec | HistorySpec>();
if (spec?.kind === "conversation") await child(spec);
else if (spec?.kind === "history") await historyChild(spec);
else await main();
