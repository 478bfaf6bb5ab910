/**
 * LFM2-Audio against liquid-audio on every audio-model fixture: each case's prompt (text ids,
 * modality flags, the assembled rows), the backbone's logits after it, and the greedy runs step by
 * step (text ids and every code of every frame). Cases, prompts, budgets and shapes all come from
 * the fixture files.
 */
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Checkpoint, LfmkitError, argmax } from "@lfmkit/core";
import { NEAR_TIE, checkpointFixtures, maxAbsDiff, readJson, scratchDir, testCacheDir } from "@lfmkit/testing";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { LFM2AudioModel } from "../src/lfm2-audio.js";
import { Modality, type AudioChatEvent, type AudioGenerationOptions, type GeneratedStep, type LFM2AudioConversation } from "../src/lfm2-audio-conversation.js";
import { LOOP_TOKENS, type GenerationMode } from "../src/lfm2-audio-schedule.js";

interface Case {
  mode: GenerationMode;
  system: string;
  max_new_tokens: number;
  steps: GeneratedStep[];
}

const TOLERANCE = 1e-3;

async function collect(events: AsyncIterable<AudioChatEvent>): Promise<AudioChatEvent[]> {
  const out: AudioChatEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

function done(events: AudioChatEvent[]): Extract<AudioChatEvent, { type: "done" }> {
  const last = events.at(-1);
  if (last?.type !== "done") throw new Error("the run did not end with a done event");
  return last;
}

/** The steps the events announce, in order. */
function stepsOf(events: AudioChatEvent[]): GeneratedStep[] {
  return events.flatMap((e): GeneratedStep[] => (e.type === "text" ? [{ text: e.id }] : e.type === "audio" ? [{ audio: e.codes }] : []));
}

function topMargin(logits: Float32Array): number {
  const best = argmax(logits);
  let second = -Infinity;
  logits.forEach((x, i) => {
    if (i !== best && x > second) second = x;
  });
  return logits[best] - second;
}

const fixtures = checkpointFixtures("audioModel");
test("audio-model fixtures are present", () => expect(fixtures.length).toBeGreaterThan(0));

describe.each(fixtures)("LFM2-Audio %s", (dir) => {
  const reference = readJson(join(dir, "reference.json"));
  const cases: Case[] = reference.cases;
  // input_wav is relative to the fixture set's root.
  const wav = join(dirname(dir), reference.input_wav);
  const ref = Checkpoint.openFile(join(dir, "reference.safetensors"));
  const greedy = (c: Case): AudioGenerationOptions => ({ mode: c.mode, maxNewTokens: c.max_new_tokens, textTemperature: 0, audioTemperature: 0 });
  let model: LFM2AudioModel;

  beforeAll(async () => {
    model = await LFM2AudioModel.load(dir, { cacheDir: testCacheDir() });
  });
  afterAll(() => model?.dispose());

  /** A case's conversation up to the opened assistant turn, as liquid-audio's ChatState builds it. */
  async function prompted(c: Case): Promise<LFM2AudioConversation> {
    const conversation = model.conversation({ system: c.system });
    await conversation.addUserTurn([{ type: "audio", audio: wav }]);
    return conversation;
  }

  test.each(cases)("$mode: the prompt's text ids and modality flags", async (c) => {
    const conversation = await prompted(c);
    for (const [actual, name] of [
      [conversation.textIds, `${c.mode}.text_ids`],
      [conversation.modalities, `${c.mode}.modality_flag`],
    ] as const) {
      const expected = ref.readInts(name);
      // The reference covers at least the prompt; compare the positions both hold.
      expect(expected.length, name).toBeGreaterThanOrEqual(actual.length);
      expect([...actual], name).toEqual(expected.slice(0, actual.length));
    }
  });

  test("the first case's assembled rows match inputs_embeds", async () => {
    const conversation = await prompted(cases[0]);
    const [positions, hidden] = ref.info("inputs_embeds").shape;
    expect([conversation.length, model.backbone.config.hiddenSize]).toEqual([positions, hidden]);
    const diff = maxAbsDiff(conversation.pendingInput, ref.readF32("inputs_embeds"));
    console.log(`${dir}: inputs_embeds max abs diff ${diff.toExponential(2)} over ${positions} positions`);
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
  });

  test.each(cases)("$mode: the backbone's logits after the prompt", async (c) => {
    const conversation = await prompted(c);
    const { logits } = await model.backbone.forwardEmbeddings(model.backbone.newState(), conversation.pendingInput);
    const diff = maxAbsDiff(logits, ref.readF32(`${c.mode}.prefill_logits_last`));
    console.log(`${dir} ${c.mode}: prefill logits max abs diff ${diff.toExponential(2)}`);
    expect(diff).toBeLessThanOrEqual(TOLERANCE);
  });

  test.each(cases)("$mode: the greedy run reproduces every reference step", async (c) => {
    const conversation = await prompted(c);
    const promptLength = conversation.length;
    const events = await collect(conversation.generate(greedy(c)));
    const { steps, usage } = done(events);
    expect(steps).toEqual(c.steps);
    expect(stepsOf(events)).toEqual(c.steps);
    expect(usage).toMatchObject({ promptTokens: promptLength, cachedPromptTokens: 0, completionTokens: c.steps.length });
    const flags = c.steps.map((s) => ("text" in s ? Modality.text : Modality.audioOut));
    expect(conversation.modalities.slice(promptLength)).toEqual(flags);
  });

  test("a new user turn appends to the conversation and answers as a full re-prefill would", async () => {
    const c = cases[0];
    const conversation = await prompted(c);
    const { steps } = done(await collect(conversation.generate(greedy(c))));
    const before = { ids: [...conversation.textIds], modalities: [...conversation.modalities], processed: conversation.processed };
    await conversation.addUserTurn("And then?");
    expect(conversation.textIds.slice(0, before.ids.length)).toEqual(before.ids);
    expect(conversation.modalities.slice(0, before.modalities.length)).toEqual(before.modalities);
    // The answer is closed with one <|im_end|> (the model's own, if it ended with it), then ChatState's turns.
    const endedWithImEnd = JSON.stringify(steps.at(-1)) === JSON.stringify({ text: LOOP_TOKENS.imEnd });
    const pieces = [endedWithImEnd ? "\n" : "<|im_end|>\n", "<|im_start|>user\n", "And then?", "<|im_end|>\n", "<|im_start|>assistant\n"];
    expect(conversation.textIds.slice(before.ids.length)).toEqual(pieces.flatMap((piece) => model.tokenizer.encode(piece)));
    // Nothing already run is run again: only the positions after it are pending.
    expect(conversation.processed).toBe(before.processed);
    expect(conversation.pendingInput.length).toBe((conversation.length - before.processed) * model.backbone.config.hiddenSize);

    const fullHistory = await historyRows(conversation);
    const { logits } = await model.backbone.forwardEmbeddings(model.backbone.newState(), fullHistory);
    const first = done(await collect(conversation.generate({ ...greedy(c), maxNewTokens: 1 }))).steps[0];
    const margin = topMargin(logits);
    console.log(`${dir}: second turn, full re-prefill top-1/top-2 logit margin ${margin.toExponential(2)}`);
    if (margin >= NEAR_TIE) expect(first).toEqual({ text: argmax(logits) }); // a near tie may flip either way
  });

  /** Every row of a conversation whose one clip is the fixture's, rebuilt from its ids, the clip and its frames. */
  async function historyRows(conversation: LFM2AudioConversation): Promise<Float32Array> {
    const hidden = model.backbone.config.hiddenSize;
    const audioIn = await model.encodeAudio(wav);
    const rows = new Float32Array(conversation.length * hidden);
    const next = { text: 0, audioIn: 0, audioOut: 0 };
    conversation.modalities.forEach((modality, position) => {
      const row =
        modality === Modality.text
          ? model.backbone.embed([conversation.textIds[next.text++]])
          : modality === Modality.audioIn
            ? audioIn.subarray(next.audioIn * hidden, ++next.audioIn * hidden)
            : model.depthformer.frameEmbedding(conversation.audioFrames[next.audioOut++]);
      rows.set(row, position * hidden);
    });
    return rows;
  }

  test("seeded sampling repeats, and every frame holds one code per codebook", async () => {
    const c = cases[0];
    const sampled = { mode: c.mode, maxNewTokens: c.max_new_tokens, audioTemperature: 1, audioTopK: 4, seed: 11 };
    const runs = await Promise.all([0, 1].map(async () => done(await collect((await prompted(c)).generate(sampled))).steps));
    expect(runs[0]).toEqual(runs[1]);
    for (const step of runs[0]) {
      if ("audio" in step) {
        expect(step.audio).toHaveLength(model.config.codebooks);
        for (const code of step.audio) expect(code).toBeLessThanOrEqual(model.depthformer.endOfAudio);
      }
    }
  });

  test("a codec gets every frame but end of audio, and its audio follows the frame's event", async () => {
    const c = cases.find((k) => k.steps.some((s) => "audio" in s)) ?? cases[0];
    const decoded: number[][] = [];
    const codec = {
      decodeFrames(frames: readonly (readonly number[])[]) {
        decoded.push(...frames.map((f) => [...f]));
        return new Float32Array(frames.length).fill(decoded.length);
      },
    };
    const events = await collect((await prompted(c)).generate({ ...greedy(c), codec }));
    const frames = events.flatMap((e) => (e.type === "audio" && !e.codes.includes(model.depthformer.endOfAudio) ? [e.codes] : []));
    expect(decoded).toEqual(frames);
    events.forEach((e, i) => {
      if (e.type === "audio_chunk") expect(events[i - 1].type).toBe("audio");
    });
    expect(events.filter((e) => e.type === "audio_chunk")).toHaveLength(frames.length);
  });

  test("aborting stops the answer with the signal's reason, and the conversation goes on", async () => {
    const c = cases[0];
    const conversation = await prompted(c);
    const controller = new AbortController();
    const run = async () => {
      for await (const _ of conversation.generate({ ...greedy(c), signal: controller.signal })) controller.abort();
    };
    await expect(run()).rejects.toMatchObject({ name: "AbortError" });
    await conversation.addUserTurn("Go on.");
    expect(done(await collect(conversation.generate({ ...greedy(c), maxNewTokens: 2 }))).steps).toHaveLength(2);
  });

  test("a broken WAV is refused in one line and appends nothing", async () => {
    const broken = join(scratchDir("lfm2-audio"), "broken.wav");
    writeFileSync(broken, Buffer.from("RIFF\x10\x00\x00\x00WAVEjunk"));
    const conversation = model.conversation({ system: cases[0].system });
    const positions = conversation.length;
    const error = await conversation.addUserTurn([{ type: "audio", audio: broken }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LfmkitError);
    expect((error as Error).message).not.toContain("\n");
    expect(conversation.length).toBe(positions);
  });
});
