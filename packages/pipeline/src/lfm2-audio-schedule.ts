/**
 * When LFM2-Audio switches between text and audio while it generates: liquid-audio's two loops
 * (`generate_interleaved`, `generate_sequential` in model/lfm2_audio.py), reduced to the decisions
 * they make after every step. The generation loop asks the schedule which modality the next step
 * samples and tells it what was sampled.
 */

/** Token ids liquid-audio's loops hard-code (whatever the tokenizer calls them). */
export const LOOP_TOKENS = { imEnd: 7, audioStart: 128, textEnd: 130 } as const;

export type GenerationMode = "interleaved" | "sequential";

export interface Schedule {
  /** What the coming step samples. */
  readonly modality: "text" | "audio";
  /** Called once at the start of every step, before the backbone runs. */
  startStep(): void;
  /** After a text token: whether it is emitted as a step, and whether generation ends with it. */
  afterText(id: number): { emit: boolean; stop: boolean };
  /** After an audio frame; `endOfAudio` when its first code is end of audio. */
  afterAudio(endOfAudio: boolean): void;
}

/**
 * `interleaved_n_text` text steps, then `interleaved_n_audio` audio steps, and again; every step
 * spends one of the current budget. `<|text_end|>` finishes the text: audio then runs until end of
 * audio. An end-of-audio frame switches to text whatever is left; `<|im_end|>` ends the answer
 * (and is not emitted).
 */
export class InterleavedSchedule implements Schedule {
  modality: "text" | "audio" = "text";
  private left: number;
  private textDone = false;

  constructor(
    private readonly textSteps: number,
    private readonly audioSteps: number,
  ) {
    this.left = textSteps;
  }

  startStep(): void {
    this.left--;
  }

  afterText(id: number): { emit: boolean; stop: boolean } {
    if (id === LOOP_TOKENS.imEnd) return { emit: false, stop: true };
    if (id === LOOP_TOKENS.textEnd) this.textDone = true;
    // An exhausted budget is exactly 0: after an end of audio the budget is not refilled and can run below.
    if (this.left === 0 || this.textDone) this.switchTo("audio", this.audioSteps);
    return { emit: true, stop: false };
  }

  afterAudio(endOfAudio: boolean): void {
    if (this.left === 0 && !this.textDone) this.switchTo("text", this.textSteps);
    if (endOfAudio) this.modality = "text";
  }

  private switchTo(modality: "text" | "audio", budget: number): void {
    this.modality = modality;
    this.left = budget;
  }
}

/** Text until `<|audio_start|>`, then audio until end of audio, then text again; `<|im_end|>` ends the answer (emitted). */
export class SequentialSchedule implements Schedule {
  modality: "text" | "audio" = "text";

  startStep(): void {}

  afterText(id: number): { emit: boolean; stop: boolean } {
    if (id === LOOP_TOKENS.audioStart) this.modality = "audio";
    return { emit: true, stop: id === LOOP_TOKENS.imEnd };
  }

  afterAudio(endOfAudio: boolean): void {
    if (endOfAudio) this.modality = "text";
  }
}

export function scheduleFor(mode: GenerationMode, interleaved: { text: number; audio: number }): Schedule {
  return mode === "interleaved" ? new InterleavedSchedule(interleaved.text, interleaved.audio) : new SequentialSchedule();
}
