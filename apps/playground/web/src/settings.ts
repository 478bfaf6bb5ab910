/** The sampling settings panel: each field empty means "the server's default"; values are kept in localStorage. */
import type { Sampling } from "./api.js";
import { h } from "./dom.js";

interface NumberField {
  key: keyof Sampling;
  label: string;
  min: number;
  max?: number;
  step: number | "any";
  integer?: boolean;
  hint: string;
}

const FIELDS: NumberField[] = [
  { key: "temperature", label: "Temperature", min: 0, max: 2, step: 0.05, hint: "0 is greedy (deterministic)" },
  { key: "top_p", label: "Top-p", min: 0.01, max: 1, step: 0.05, hint: "nucleus sampling" },
  { key: "top_k", label: "Top-k", min: 0, step: 1, integer: true, hint: "0 keeps all tokens" },
  { key: "min_p", label: "Min-p", min: 0, max: 1, step: 0.01, hint: "drop tokens below this share of the top one" },
  { key: "repetition_penalty", label: "Repetition penalty", min: 0.1, max: 10, step: 0.05, hint: "above 1 discourages repeats" },
  { key: "max_tokens", label: "Max tokens", min: 1, step: 1, integer: true, hint: "longest answer" },
  { key: "seed", label: "Seed", min: 0, step: 1, integer: true, hint: "same seed, same answer" },
];

const STORAGE_KEY = "lfmkit.settings";

interface Stored {
  values: Partial<Record<keyof Sampling, string>>;
  system: string;
  speak: boolean;
  apiKey: string;
}

export interface SettingsValue {
  sampling: Sampling;
  system: string;
  speak: boolean;
  errors: string[];
}

export class SettingsPanel {
  readonly element: HTMLElement;
  private readonly inputs = new Map<keyof Sampling, HTMLInputElement>();
  private readonly system: HTMLTextAreaElement;
  private readonly speak: HTMLInputElement;
  private readonly speakRow: HTMLElement;
  private readonly apiKey: HTMLInputElement;
  /** Called when the API key is edited. */
  onApiKey: (key: string) => void = () => undefined;

  constructor() {
    const stored = load();
    this.system = h("textarea", { id: "setting-system", rows: 4, placeholder: "You are a helpful assistant.", "data-testid": "setting-system", onInput: () => this.save() });
    this.system.value = stored.system;
    this.speak = h("input", { type: "checkbox", id: "setting-speak", "data-testid": "setting-speak", onChange: () => this.save() });
    this.speak.checked = stored.speak;
    this.apiKey = h("input", {
      type: "password",
      id: "setting-api-key",
      autocomplete: "off",
      placeholder: "only if the server asks",
      "data-testid": "setting-api-key",
      onChange: () => {
        this.save();
        this.onApiKey(this.apiKey.value);
      },
    });
    this.apiKey.value = stored.apiKey;
    this.speakRow = h("div", { class: "field field-check" }, this.speak, h("label", { for: "setting-speak" }, "Speak answers (audio output)"));

    const rows = FIELDS.map((field) => {
      const id = `setting-${field.key.replace(/_/g, "-")}`;
      const input = h("input", {
        type: "number",
        id,
        name: field.key,
        inputmode: field.integer ? "numeric" : "decimal",
        min: field.min,
        max: field.max,
        step: field.step,
        placeholder: "default",
        "data-testid": id,
        "aria-describedby": `${id}-hint`,
        onInput: () => {
          input.toggleAttribute("aria-invalid", !this.valid(field, input));
          this.save();
        },
      });
      input.value = stored.values[field.key] ?? "";
      this.inputs.set(field.key, input);
      return h("div", { class: "field" }, h("label", { for: id }, field.label), input, h("small", { id: `${id}-hint`, class: "hint" }, field.hint));
    });

    this.element = h(
      "section",
      { class: "settings", "aria-label": "Settings" },
      h("h2", {}, "Settings"),
      h("div", { class: "field" }, h("label", { for: "setting-system" }, "System prompt"), this.system),
      ...rows,
      this.speakRow,
      h("div", { class: "field field-wide" }, h("label", { for: "setting-api-key" }, "API key"), this.apiKey),
      h("button", { type: "button", class: "link", "data-testid": "settings-reset", onClick: () => this.reset() }, "Reset to defaults"),
    );
  }

  /** Shows the speech toggle only for models that can speak. */
  setAudioOutput(available: boolean): void {
    this.speakRow.hidden = !available;
  }

  get apiKeyValue(): string {
    return this.apiKey.value;
  }

  read(): SettingsValue {
    const sampling: Sampling = {};
    const errors: string[] = [];
    for (const field of FIELDS) {
      const input = this.inputs.get(field.key)!;
      if (input.value.trim() === "" && !input.validity.badInput) continue;
      if (!this.valid(field, input)) {
        const range = field.max !== undefined ? `between ${field.min} and ${field.max}` : `at least ${field.min}`;
        errors.push(`${field.label} must be ${field.integer ? "a whole number " : "a number "}${range}.`);
        continue;
      }
      sampling[field.key] = Number(input.value);
    }
    return { sampling, system: this.system.value.trim(), speak: !this.speakRow.hidden && this.speak.checked, errors };
  }

  private valid(field: NumberField, input: HTMLInputElement): boolean {
    if (input.value.trim() === "") return !input.validity.badInput;
    const value = Number(input.value);
    if (!Number.isFinite(value) || value < field.min || (field.max !== undefined && value > field.max)) return false;
    return !field.integer || Number.isInteger(value);
  }

  private reset(): void {
    for (const input of this.inputs.values()) {
      input.value = "";
      input.removeAttribute("aria-invalid");
    }
    this.system.value = "";
    this.speak.checked = false;
    this.save();
  }

  private save(): void {
    const values: Stored["values"] = {};
    for (const [key, input] of this.inputs) if (input.value !== "") values[key] = input.value;
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify({ values, system: this.system.value, speak: this.speak.checked, apiKey: this.apiKey.value } satisfies Stored));
    } catch {
      // storage full: settings last for this page only
    }
  }
}

function load(): Stored {
  try {
    const stored = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "{}") as Partial<Stored>;
    return { values: stored.values ?? {}, system: stored.system ?? "", speak: !!stored.speak, apiKey: stored.apiKey ?? "" };
  } catch {
    return { values: {}, system: "", speak: false, apiKey: "" };
  }
}
