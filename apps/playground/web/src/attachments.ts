/**
 * The question's attachments: images (file picker, drag and drop onto the page, paste) and audio (a file,
 * or a microphone recording), shown as a tray of previews with remove buttons.
 */
import type { Capabilities } from "./api.js";
import { h } from "./dom.js";
import { MicrophoneRecorder } from "./recorder.js";
import type { Attachment, AudioAttachment, ImageAttachment } from "./store.js";
import { isPcm16Wav, toBase64, toWav, wavSeconds } from "./wav.js";

const MAX_FILE_BYTES = 25 * 1024 * 1024;
/** Image types the server decodes; others (BMP, SVG, AVIF…) are redrawn as PNG first. */
const SERVER_IMAGE_TYPES = new Set(["image/png", "image/jpeg", "image/webp", "image/gif"]);

export class AttachmentTray {
  readonly element: HTMLElement;
  /** The buttons, for the composer's toolbar. */
  readonly controls: HTMLElement;
  private items: Attachment[] = [];
  private capabilities: Capabilities = { image_input: false, audio_input: false, audio_output: false };
  private readonly imageInput: HTMLInputElement;
  private readonly audioInput: HTMLInputElement;
  private readonly imageButton: HTMLButtonElement;
  private readonly audioButton: HTMLButtonElement;
  private readonly recordButton: HTMLButtonElement;
  private readonly recorder = new MicrophoneRecorder();
  private recordStarted = 0;
  private recordTimer?: number;
  private busy = false;

  onError: (message: string) => void = () => undefined;
  onChange: () => void = () => undefined;

  constructor() {
    this.imageInput = h("input", { type: "file", accept: "image/*", multiple: true, hidden: true, "data-testid": "image-input", "aria-label": "Image files" });
    this.imageInput.addEventListener("change", () => {
      void this.addFiles([...(this.imageInput.files ?? [])]);
      this.imageInput.value = "";
    });
    this.audioInput = h("input", { type: "file", accept: "audio/*,.wav", hidden: true, "data-testid": "audio-input", "aria-label": "Audio file" });
    this.audioInput.addEventListener("change", () => {
      void this.addFiles([...(this.audioInput.files ?? [])]);
      this.audioInput.value = "";
    });
    this.imageButton = h("button", { type: "button", class: "tool", "aria-label": "Attach image", "data-testid": "attach-image", onClick: () => this.imageInput.click() }, iconImage());
    this.audioButton = h("button", { type: "button", class: "tool", "aria-label": "Attach audio (WAV)", "data-testid": "attach-audio", onClick: () => this.audioInput.click() }, iconAudio());
    this.recordButton = h("button", { type: "button", class: "tool", "aria-label": "Record audio", "aria-pressed": "false", "data-testid": "record-audio", onClick: () => void this.toggleRecording() }, iconMic());
    this.controls = h("div", { class: "tools" }, this.imageButton, this.audioButton, this.recordButton, this.imageInput, this.audioInput);
    this.element = h("div", { class: "tray", "data-testid": "attachments", "aria-label": "Attachments", role: "list" });
    this.setCapabilities(this.capabilities);
  }

  /** Enables only what the model can take. */
  setCapabilities(capabilities: Capabilities): void {
    this.capabilities = capabilities;
    this.imageButton.disabled = !capabilities.image_input;
    this.imageButton.title = capabilities.image_input ? "Attach image (or drop / paste one)" : "This model cannot take images";
    this.imageInput.disabled = !capabilities.image_input;
    const audio = capabilities.audio_input;
    this.audioButton.disabled = !audio;
    this.audioButton.title = audio ? "Attach a WAV file" : "This model cannot take audio";
    this.audioInput.disabled = !audio;
    const canRecord = audio && MicrophoneRecorder.supported();
    this.recordButton.disabled = !canRecord;
    this.recordButton.title = !audio ? "This model cannot take audio" : canRecord ? "Record with the microphone" : "Recording needs a secure context (https or localhost)";
    const allowed = this.items.filter((a) => (a.kind === "image" ? capabilities.image_input : capabilities.audio_input));
    if (allowed.length !== this.items.length) {
      this.items = allowed;
      this.render();
    }
  }

  /** Disables adding while an answer streams. */
  setBusy(busy: boolean): void {
    this.busy = busy;
  }

  get attachments(): readonly Attachment[] {
    return this.items;
  }

  get pending(): boolean {
    return this.recorder.recording;
  }

  clear(): void {
    this.items = [];
    this.render();
  }

  /** Files from any source (picker, drop, paste): images and audio are told apart by type. */
  async addFiles(files: File[]): Promise<void> {
    for (const file of files) {
      try {
        if (file.size > MAX_FILE_BYTES) throw new Error(`${file.name} is larger than ${MAX_FILE_BYTES / 1024 / 1024} MB`);
        if (file.type.startsWith("image/")) {
          if (!this.capabilities.image_input) throw new Error("This model cannot take images.");
          this.items.push(await imageFrom(file));
        } else if (file.type.startsWith("audio/") || /\.wav$/i.test(file.name)) {
          if (!this.capabilities.audio_input) throw new Error("This model cannot take audio.");
          this.items.push(await audioFrom(file));
        } else {
          throw new Error(`${file.name || "This file"} is neither an image nor audio.`);
        }
      } catch (error) {
        this.onError(error instanceof Error ? error.message : String(error));
      }
    }
    this.render();
  }

  /** Drag and drop onto the whole page, and pasting images. */
  listen(target: HTMLElement): void {
    let depth = 0;
    const hasFiles = (event: DragEvent) => [...(event.dataTransfer?.types ?? [])].includes("Files");
    target.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth++;
      target.classList.add("dropping");
    });
    target.addEventListener("dragover", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      if (event.dataTransfer) event.dataTransfer.dropEffect = this.busy ? "none" : "copy";
    });
    target.addEventListener("dragleave", (event) => {
      if (!hasFiles(event)) return;
      depth = Math.max(0, depth - 1);
      if (depth === 0) target.classList.remove("dropping");
    });
    target.addEventListener("drop", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      target.classList.remove("dropping");
      if (!this.busy) void this.addFiles([...(event.dataTransfer?.files ?? [])]);
    });
    document.addEventListener("paste", (event) => {
      const files = [...(event.clipboardData?.files ?? [])].filter((f) => f.type.startsWith("image/") || f.type.startsWith("audio/"));
      if (files.length === 0 || this.busy) return;
      event.preventDefault();
      void this.addFiles(files.map((f, i) => (f.name && f.name !== "image.png" ? f : new File([f], `pasted-${Date.now()}-${i}.${f.type.split("/")[1] ?? "png"}`, { type: f.type }))));
    });
  }

  private async toggleRecording(): Promise<void> {
    if (this.recorder.recording) {
      window.clearInterval(this.recordTimer);
      this.setRecordingState(false);
      try {
        const recording = await this.recorder.stop();
        if (!recording) throw new Error("Nothing was recorded.");
        const name = `recording-${new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })}.wav`;
        this.items.push({ kind: "audio", name, data: toBase64(recording.wav), seconds: recording.seconds });
        this.render();
      } catch (error) {
        this.onError(`Recording failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      return;
    }
    try {
      await this.recorder.start();
    } catch (error) {
      this.onError(`The microphone is not available: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    this.recordStarted = performance.now();
    this.setRecordingState(true);
    this.recordTimer = window.setInterval(() => this.setRecordingState(true), 250);
  }

  private setRecordingState(recording: boolean): void {
    this.recordButton.setAttribute("aria-pressed", String(recording));
    this.recordButton.classList.toggle("recording", recording);
    this.recordButton.setAttribute("aria-label", recording ? "Stop recording" : "Record audio");
    this.recordButton.replaceChildren(recording ? h("span", { class: "rec-time" }, `${((performance.now() - this.recordStarted) / 1000).toFixed(1)} s`) : iconMic());
    this.onChange();
  }

  private remove(item: Attachment): void {
    this.items = this.items.filter((a) => a !== item);
    this.render();
  }

  private render(): void {
    this.element.replaceChildren(
      ...this.items.map((item) =>
        h(
          "div",
          { class: `chip chip-${item.kind}`, role: "listitem", "data-testid": "attachment", title: item.name },
          attachmentPreview(item),
          h("button", { type: "button", class: "chip-remove", "aria-label": `Remove ${item.name}`, "data-testid": "remove-attachment", onClick: () => this.remove(item) }, "×"),
        ),
      ),
    );
    this.element.hidden = this.items.length === 0;
    this.onChange();
  }
}

/** A thumbnail for an image, a player for audio (used in the tray and in sent messages). */
export function attachmentPreview(item: Attachment): HTMLElement {
  if (item.kind === "image") {
    if (!item.url) return h("span", { class: "missing" }, `${item.name} (not kept)`);
    return h("img", { src: item.url, alt: item.name, class: "thumb" });
  }
  if (!item.data) return h("span", { class: "missing" }, `${item.name} (not kept)`);
  const label = `${item.name}${item.seconds !== undefined ? ` · ${item.seconds.toFixed(1)} s` : ""}`;
  return h("span", { class: "audio-chip" }, h("audio", { controls: true, src: `data:audio/wav;base64,${item.data}`, "aria-label": item.name, preload: "metadata" }), h("span", { class: "audio-name" }, label));
}

async function imageFrom(file: File): Promise<ImageAttachment> {
  const name = file.name || "image";
  if (SERVER_IMAGE_TYPES.has(file.type)) return { kind: "image", name, url: await dataUrl(file) };
  // Redraw what the server may not decode as PNG.
  const url = URL.createObjectURL(file);
  const canvas = document.createElement("canvas");
  try {
    const image = new Image();
    image.src = url;
    await image.decode().catch(() => {
      throw new Error(`${name} is not an image this browser can read.`);
    });
    canvas.width = image.naturalWidth || 512;
    canvas.height = image.naturalHeight || 512;
    canvas.getContext("2d")!.drawImage(image, 0, 0, canvas.width, canvas.height);
  } finally {
    URL.revokeObjectURL(url);
  }
  return { kind: "image", name, url: canvas.toDataURL("image/png") };
}

async function audioFrom(file: File): Promise<AudioAttachment> {
  const name = file.name || "audio.wav";
  const bytes = new Uint8Array(await file.arrayBuffer());
  if (isPcm16Wav(bytes)) return { kind: "audio", name, data: toBase64(bytes), seconds: wavSeconds(bytes) };
  // Other formats (MP3, float WAV, a browser recording…) are decoded and written as 16-bit WAV.
  try {
    const { wav, seconds } = await toWav(bytes.buffer);
    return { kind: "audio", name: name.replace(/\.[^.]*$/, "") + ".wav", data: toBase64(wav), seconds };
  } catch {
    throw new Error(`${name} is not audio this browser can decode.`);
  }
}

function dataUrl(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error("could not read the file"));
    reader.readAsDataURL(file);
  });
}

const svg = (path: string) => {
  const template = document.createElement("template");
  template.innerHTML = `<svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">${path}</svg>`;
  return template.content.firstElementChild as SVGElement;
};
const iconImage = () => svg('<rect x="3" y="4" width="18" height="16" rx="2"/><circle cx="9" cy="10" r="2"/><path d="m21 17-5-5-9 8"/>');
const iconAudio = () => svg('<path d="M9 18V6l10-2v12"/><circle cx="6" cy="18" r="3"/><circle cx="16" cy="16" r="3"/>');
const iconMic = () => svg('<rect x="9" y="3" width="6" height="11" rx="3"/><path d="M5 11a7 7 0 0 0 14 0M12 18v3"/>');
