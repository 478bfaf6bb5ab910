/**
 * The modality switching of liquid-audio's two loops on scripted outcomes, including the paths the
 * reference runs do not reach (<|text_end|>, end of audio, sequential audio). Each expectation is
 * a trace of `generate_interleaved` / `generate_sequential` in model/lfm2_audio.py.
 */
import { describe, expect, test } from "vitest";
import { InterleavedSchedule, LOOP_TOKENS, SequentialSchedule, type Schedule } from "../src/lfm2-audio-schedule.js";

/** What the model "samples" at a step: a text id, a frame, or an end-of-audio frame. */
type Outcome = number | "frame" | "end of audio";

/** The modality of every step the script drives, and whether and where generation stopped. */
function run(schedule: Schedule, script: readonly Outcome[]): { modalities: string; emitted: number; stopped: boolean } {
  let modalities = "";
  let emitted = 0;
  for (const outcome of script) {
    schedule.startStep();
    modalities += schedule.modality === "text" ? "T" : "A";
    if (schedule.modality === "text") {
      if (typeof outcome !== "number") throw new Error(`the script has ${outcome} at a text step`);
      const { emit, stop } = schedule.afterText(outcome);
      if (emit) emitted++;
      if (stop) return { modalities, emitted, stopped: true };
    } else {
      if (typeof outcome === "number") throw new Error(`the script has text ${outcome} at an audio step`);
      schedule.afterAudio(outcome === "end of audio");
      emitted++;
    }
  }
  return { modalities, emitted, stopped: false };
}

describe("interleaved", () => {
  test("alternates the text and audio budgets", () => {
    const script: Outcome[] = [10, 11, "frame", "frame", "frame", 12, 13, "frame"];
    expect(run(new InterleavedSchedule(2, 3), script).modalities).toBe("TTAAATTA");
  });

  test("end of audio switches to text with the budget left over, not a new one", () => {
    const script: Outcome[] = [10, 11, "end of audio", 12, 13, "frame"];
    expect(run(new InterleavedSchedule(2, 3), script).modalities).toBe("TTATTA");
  });

  test("after <|text_end|> audio runs past its budget until end of audio, and each later text step goes back to audio", () => {
    const script: Outcome[] = [10, LOOP_TOKENS.textEnd, "frame", "frame", "frame", "end of audio", 11, "frame"];
    expect(run(new InterleavedSchedule(3, 2), script).modalities).toBe("TTAAAATA");
  });

  test("<|im_end|> stops without being emitted", () => {
    expect(run(new InterleavedSchedule(3, 2), [10, LOOP_TOKENS.imEnd, 11])).toEqual({ modalities: "TT", emitted: 1, stopped: true });
  });
});

describe("sequential", () => {
  test("text until <|audio_start|>, audio until end of audio, then <|im_end|> ends it, emitted", () => {
    const script: Outcome[] = [10, LOOP_TOKENS.audioStart, "frame", "frame", "end of audio", 11, LOOP_TOKENS.imEnd, 12];
    expect(run(new SequentialSchedule(), script)).toEqual({ modalities: "TTAAATT", emitted: 7, stopped: true });
  });
});
