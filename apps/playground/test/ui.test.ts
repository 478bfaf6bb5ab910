/**
 * The playground's web UI in headless Chromium against the real server and the default model: an image
 * question answered by streaming (the answer grows over time) and ending equal to the reference, Stop
 * during a long answer, conversations kept across a reload. Needs the UI built (`pnpm build`) and Chromium.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { readJson, repoRoot, testCacheDir } from "@lfmkit/testing";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer } from "../src/index.js";

const root = repoRoot();
const modelPath = join(root, "models", "lfmkit-demo");
const imagePath = join(modelPath, "example-shapes.png");
const outputDir = join(root, "apps", "playground", "test-output");
const chromiumPath = process.env.LFMKIT_CHROMIUM ?? "/usr/bin/chromium";

interface Sample {
  prompt: string;
  image?: string;
  text: string;
}
const samples = readJson<{ samples: Sample[] }>(join(modelPath, "reference.json")).samples;
const imageSample = samples.find((s) => s.image && s.prompt === "Describe this image.")!;
const whoSample = samples.find((s) => !s.image && s.prompt === "Who are you?")!;

let server: { url: string; close(): Promise<void> } | undefined;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

/** Records every distinct text of each answer (by message id) as the page changes it. */
async function watchAnswers(): Promise<void> {
  await page.evaluate(() => {
    const states: Record<string, string[]> = {};
    (window as unknown as { __answerStates: typeof states }).__answerStates = states;
    const messages = document.querySelector('[data-testid="messages"]')!;
    const record = () => {
      for (const article of messages.querySelectorAll<HTMLElement>('[data-testid="assistant-message"]')) {
        const id = article.dataset.id!;
        const text = article.querySelector('[data-testid="answer-text"]')?.textContent ?? "";
        const list = (states[id] ??= []);
        if (list[list.length - 1] !== text) list.push(text);
      }
    };
    new MutationObserver(record).observe(messages, { childList: true, subtree: true, characterData: true });
  });
}

const answerStates = (id: string) => page.evaluate((key) => (window as unknown as { __answerStates: Record<string, string[]> }).__answerStates[key] ?? [], id);
const lastAnswer = () => page.getByTestId("assistant-message").last();
const lastAnswerText = () => lastAnswer().getByTestId("answer-text").textContent().then((t) => (t ?? "").trim());

async function waitForIdle(timeout = 30_000): Promise<void> {
  await page.waitForSelector('[data-testid="app"][data-state="idle"]', { timeout });
}

async function setSetting(label: string, value: string): Promise<void> {
  await page.getByLabel(label, { exact: true }).fill(value);
}

async function ask(text: string): Promise<string> {
  await page.getByTestId("prompt").fill(text);
  await page.getByTestId("send").click();
  await page.waitForSelector('[data-testid="assistant-message"][data-status="streaming"]', { timeout: 10_000 });
  return (await lastAnswer().getAttribute("data-id"))!;
}

describe("playground web UI", () => {
  beforeAll(async () => {
    if (!existsSync(join(root, "apps", "playground", "dist", "web", "index.html"))) throw new Error("the UI is not built: run `pnpm build` first");
    if (!existsSync(chromiumPath)) throw new Error(`Chromium not found at ${chromiumPath} (install it, or set LFMKIT_CHROMIUM)`);
    server = await startServer({ modelPath, host: "127.0.0.1", port: 0, cacheDir: testCacheDir() });
    browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on("pageerror", (error) => pageErrors.push(error.message));
    await page.goto(server.url);
    await waitForIdle(60_000);
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("shows the loaded model and enables image input", async () => {
    const models = (await (await fetch(`${server!.url}/v1/models`)).json()) as { data: { id: string; capabilities: { image_input: boolean } }[] };
    expect(models.data[0]!.capabilities.image_input).toBe(true);
    expect(await page.getByTestId("model-name").textContent()).toBe(models.data[0]!.id);
    expect(await page.getByTestId("attach-image").isEnabled()).toBe(true);
  });

  it("streams a description of an attached image, equal to the reference", async () => {
    const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.getByTestId("attach-image").click()]);
    await chooser.setFiles(imagePath);
    await page.getByTestId("attachment").locator("img").waitFor();
    await setSetting("Temperature", "0");
    await watchAnswers();

    const id = await ask(imageSample.prompt);
    await page.waitForSelector(`[data-testid="assistant-message"][data-id="${id}"][data-status="done"]`, { timeout: 60_000 });
    await waitForIdle();

    const final = await lastAnswerText();
    expect(final).toBe(imageSample.text);
    // Streamed: the answer was shown in several growing states, each the start of the final text.
    const states = (await answerStates(id)).map((s) => s.trim()).filter((s, i, all) => s.length > 0 && s !== all[i - 1]);
    expect(states.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < states.length; i++) expect(states[i]!.length).toBeGreaterThan(states[i - 1]!.length);
    for (const state of states) expect(final.startsWith(state)).toBe(true);
    expect(states[states.length - 1]).toBe(final);

    // The question shows its image; the answer its speed from the final chunk's timings.
    await expect(page.getByTestId("user-message").last().locator("img").count()).resolves.toBe(1);
    expect(await page.getByTestId("attachment").count()).toBe(0);
    const stats = await lastAnswer().getByTestId("answer-stats").textContent();
    expect(stats).toMatch(/\d+(\.\d+)? tok\/s/);
    expect(stats).toMatch(/TTFT \d+ ms/);
  });

  it("stops a long answer with Stop and is ready again", async () => {
    await page.getByTestId("new-chat").click();
    expect(await page.getByTestId("assistant-message").count()).toBe(0);
    await setSetting("Temperature", "1");
    await setSetting("Max tokens", "2000");
    // A repetition penalty on the prompt's end-of-turn token keeps this small model from stopping early.
    await setSetting("Repetition penalty", "3");
    await setSetting("Seed", "7");

    const id = await ask("What does “dog” mean?");
    const selector = `[data-testid="assistant-message"][data-id="${id}"]`;
    await page.waitForFunction((s) => (document.querySelector(`${s} [data-testid="answer-text"]`)?.textContent ?? "").trim().length >= 20, selector, { timeout: 30_000 });
    expect(await page.getByTestId("send").isHidden()).toBe(true);
    await page.getByTestId("stop").click();

    await page.waitForSelector(`${selector}[data-status="stopped"]`, { timeout: 5_000 });
    await waitForIdle(5_000);
    const stopped = await lastAnswerText();
    expect(stopped.length).toBeGreaterThanOrEqual(20);
    await page.waitForTimeout(800);
    expect(await lastAnswerText()).toBe(stopped); // no longer growing
    expect(await page.getByTestId("stop").isHidden()).toBe(true);
    expect(await page.getByTestId("send").isVisible()).toBe(true);
    expect(await lastAnswer().getByTestId("answer-stats").textContent()).toContain("stopped");

    // Ready again: a new greedy question is answered in full (the server is not still busy with the stopped one).
    await page.getByTestId("new-chat").click();
    await page.getByTestId("settings-reset").click();
    await setSetting("Temperature", "0");
    const next = await ask(whoSample.prompt);
    await page.waitForSelector(`[data-testid="assistant-message"][data-id="${next}"][data-status="done"]`, { timeout: 30_000 });
    expect(await lastAnswerText()).toBe(whoSample.text);
  });

  it("keeps conversations in the browser across a reload", async () => {
    await page.reload();
    await waitForIdle();
    const conversations = page.getByTestId("conversation");
    expect(await conversations.count()).toBe(3);
    await conversations.filter({ hasText: imageSample.prompt }).getByRole("button", { name: imageSample.prompt }).click();
    await page.waitForFunction((text) => document.querySelector('[data-testid="assistant-message"] [data-testid="answer-text"]')?.textContent?.trim() === text, imageSample.text);
    expect(await page.getByTestId("user-message").first().locator("img").count()).toBe(1);

    mkdirSync(outputDir, { recursive: true });
    await page.screenshot({ path: join(outputDir, "ui.png"), fullPage: true });
    expect(pageErrors).toEqual([]);
  });
});
