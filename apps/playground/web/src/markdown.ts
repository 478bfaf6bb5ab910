/** Assistant text as markdown: marked renders, raw HTML in the text is shown as text, DOMPurify cleans the result. */
import DOMPurify from "dompurify";
import { Marked } from "marked";

const escapes: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => escapes[c] ?? c);

const marked = new Marked({
  gfm: true,
  breaks: true,
  async: false,
  renderer: {
    // The model's text never becomes markup: HTML in it is displayed as written.
    html({ text }) {
      return escapeHtml(text);
    },
  },
});

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
});

export function renderMarkdown(text: string): string {
  const html = marked.parse(text, { async: false });
  return DOMPurify.sanitize(html, { USE_PROFILES: { html: true }, FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"] });
}

/** Puts the rendered text into `target`, with a copy button on each code block. */
export function renderInto(target: HTMLElement, text: string): void {
  target.innerHTML = renderMarkdown(text);
  for (const pre of target.querySelectorAll("pre")) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "code-copy";
    button.textContent = "Copy";
    button.setAttribute("aria-label", "Copy code");
    button.addEventListener("click", () => {
      void copyText(pre.querySelector("code")?.textContent ?? pre.textContent ?? "").then((ok) => {
        button.textContent = ok ? "Copied" : "Copy failed";
        setTimeout(() => (button.textContent = "Copy"), 1500);
      });
    });
    pre.append(button);
  }
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // clipboard API refused (insecure context or no permission): the old way
    const area = document.createElement("textarea");
    area.value = text;
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.append(area);
    area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}
