/** Microphone recording: MediaRecorder captures, Web Audio decodes and resamples, the result is a 16-bit WAV. */
import { toWav } from "./wav.js";

export interface Recording {
  wav: Uint8Array;
  seconds: number;
}

export class MicrophoneRecorder {
  private recorder?: MediaRecorder;
  private stream?: MediaStream;
  private chunks: Blob[] = [];

  static supported(): boolean {
    return typeof MediaRecorder !== "undefined" && !!navigator.mediaDevices?.getUserMedia;
  }

  get recording(): boolean {
    return this.recorder?.state === "recording";
  }

  async start(): Promise<void> {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true } });
    this.chunks = [];
    this.recorder = new MediaRecorder(this.stream);
    this.recorder.addEventListener("dataavailable", (event) => {
      if (event.data.size > 0) this.chunks.push(event.data);
    });
    this.recorder.start();
  }

  /** Stops and returns the recording as WAV (undefined when nothing was recorded). */
  async stop(): Promise<Recording | undefined> {
    const recorder = this.recorder;
    if (!recorder) return undefined;
    const stopped = new Promise<void>((resolve) => recorder.addEventListener("stop", () => resolve(), { once: true }));
    if (recorder.state !== "inactive") recorder.stop();
    await stopped;
    this.release();
    const blob = new Blob(this.chunks, { type: recorder.mimeType });
    this.chunks = [];
    if (blob.size === 0) return undefined;
    return toWav(await blob.arrayBuffer());
  }

  /** Drops the recording and frees the microphone. */
  cancel(): void {
    if (this.recorder && this.recorder.state !== "inactive") this.recorder.stop();
    this.release();
    this.chunks = [];
  }

  private release(): void {
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = undefined;
    this.recorder = undefined;
  }
}
