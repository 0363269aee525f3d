// Model or user text as the chat shows it, in the browser: the rules of webapp/chat/render.py
// (HTML outside code escaped, Markdown images shown as links, bare \boxed{} typeset), then
// Markdown (marked), math (KaTeX) and code blocks, coloured, with a copy button; what comes out is
// sanitized (DOMPurify), so nothing a message holds ever runs or fetches.
(() => {
  "use strict";
  if (window.r1Markdown) return;

  // Code and math are shown verbatim or typeset: nothing inside is escaped or wrapped (render.py's _PROTECTED).
  const PROTECTED = /(```[\s\S]*?(?:```|(?![\s\S]))|`[^`\n]*`|\$\$[\s\S]*?\$\$|\\\[[\s\S]*?\\\]|\\\([\s\S]*?\\\)|\$[^$\n]+\$)/;
  // `![alt](url)` and `![alt][ref]`: the `!` makes Markdown fetch and show the target.
  const IMAGE = /!\[([^\]\n]*)\](?=[(\[])/g;
  const BOXED = "\\boxed{";
  // A math span stands in the Markdown as a mark made of private-use characters, replaced by
  // its typeset HTML afterwards; the same characters in a message are dropped, so none can forge one.
  const OPEN = "\uE000", CLOSE = "\uE001";
  const MARKS = /[\uE000\uE001]/g;
  const MARKED = /\uE000(\d+)\uE001/g;
  const typeset = new Map(); // source -> HTML: a streaming answer is rendered again and again
  const TYPESET_KEPT = 2000;

  const escapeHtml = (text) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const imagesAsLinks = (text) => text.replace(IMAGE, (_, alt) => `[🖼 ${alt.trim() || "image"}]`);

  const balancedEnd = (text, start) => {
    let depth = 1;
    for (let index = start; index < text.length; index++) {
      const char = text[index];
      if (char === "{") depth++;
      else if (char === "}" && --depth === 0) return index + 1;
    }
    return -1;
  };

  const math = (source, display) => {
    const key = (display ? "D" : "I") + source;
    let html = typeset.get(key);
    if (html === undefined) {
      html = window.katex.renderToString(source, { displayMode: display, throwOnError: false, output: "htmlAndMathml" });
      if (typeset.size >= TYPESET_KEPT) typeset.clear();
      typeset.set(key, html);
    }
    return html;
  };

  // Each `\boxed{...}` of plain text, typeset as inline math (render.py's wrap_boxed).
  const boxed = (text, spans) => {
    let out = "", cursor = 0, found;
    while ((found = text.indexOf(BOXED, cursor)) >= 0) {
      const end = balancedEnd(text, found + BOXED.length);
      if (end < 0) break;
      out += text.slice(cursor, found) + OPEN + spans.push(math(text.slice(found, end), false)) + CLOSE;
      cursor = end;
    }
    return out + text.slice(cursor);
  };

  const DELIMITERS = [["$$", "$$", true], ["\\[", "\\]", true], ["\\(", "\\)", false], ["$", "$", false]];

  const protectedPart = (part, spans) => {
    if (part.startsWith("`")) return part; // code: Markdown shows it verbatim
    for (const [left, right, display] of DELIMITERS) {
      if (part.startsWith(left) && part.endsWith(right) && part.length >= left.length + right.length) {
        return OPEN + spans.push(math(part.slice(left.length, part.length - right.length), display)) + CLOSE;
      }
    }
    return part;
  };

  // Markdown with the math spans marked, and the spans' HTML (mark n is spans[n - 1]).
  const prepare = (text) => {
    const spans = [];
    const parts = text.replace(MARKS, "").split(PROTECTED);
    const out = parts.map((part, index) =>
      index % 2 === 0 ? boxed(imagesAsLinks(escapeHtml(part)), spans) : protectedPart(part, spans),
    );
    return { markdown: out.join("").trim(), spans };
  };

  const COPY_ICON =
    '<svg viewBox="0 0 24 24" width="15" height="15" fill="none" stroke="currentColor" stroke-width="2" aria-hidden="true">' +
    '<rect x="9" y="9" width="13" height="13" rx="2"/><path d="M5 15H4a2 2 0 0 1-2-2V4a2 2 0 0 1 2-2h9a2 2 0 0 1 2 2v1"/></svg>';

  const purify = () => {
    const dom = window.DOMPurify;
    if (!dom.r1Hooked) {
      dom.r1Hooked = true;
      dom.addHook("afterSanitizeAttributes", (node) => {
        if (node.tagName === "A") {
          node.setAttribute("target", "_blank");
          node.setAttribute("rel", "noopener noreferrer");
        }
      });
    }
    return dom;
  };
  // Nothing that loads or runs: no images, media, frames, forms or styles of a message's own.
  const SANITIZE = {
    FORBID_TAGS: ["img", "picture", "video", "audio", "source", "iframe", "object", "embed", "form", "input",
      "style", "link", "meta", "base", "image", "use", "foreignObject"],
    FORBID_ATTR: ["srcset", "background", "poster", "xlink:href", "formaction"],
  };

  // Code blocks coloured as the stored chat colours them: by Gradio's own Prism (`window.Prism`, which the
  // chat loads, with its colours). A language Prism has not loaded yet is imported from Gradio's own
  // files (`R1_LIVE.grammars`, webapp/ui/live.py), as the chat imports it: plain until it is there.
  const NEEDS = { php: ["markup-templating"], cpp: ["c"] }; // grammars built on another one
  const loading = new Map();
  const load = (name) => {
    const file = (window.R1_LIVE?.grammars || {})[name];
    if (!file || !window.Prism) return Promise.resolve();
    if (!loading.has(name)) {
      const url = new URL(file, document.baseURI).href;
      const needed = Promise.all((NEEDS[name] || []).map(load));
      loading.set(name, needed.then(() => import(url)).catch(() => {}));
    }
    return loading.get(name);
  };
  const coloured = ({ text, lang }) => {
    const name = ((lang || "").match(/^[\w-]+/) || [""])[0].toLowerCase();
    const grammar = name && window.Prism?.languages?.[name];
    if (!grammar) {
      if (name) load(name);
      return false; // marked's own rendering
    }
    return `<pre><code class="language-${name}">${window.Prism.highlight(text, grammar, name)}</code></pre>\n`;
  };
  let parser = null;
  const markdown = () =>
    (parser ||= new window.marked.Marked({ gfm: true, breaks: true, async: false, renderer: { code: coloured } }));

  /** `text` (a message, or part of one) as safe HTML. */
  const render = (text) => {
    const { markdown: source, spans } = prepare(text || "");
    let html = markdown().parse(source);
    html = html.replace(MARKED, (_, n) => spans[Number(n) - 1] || "");
    html = html.replace(/<pre>/g, `<div class="code_wrap"><button type="button" class="copy_code_button" title="copy" aria-label="copy">${COPY_ICON}</button><pre>`)
      .replace(/<\/pre>/g, "</pre></div>");
    return purify().sanitize(html, SANITIZE);
  };

  const copy = async (text) => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = document.createElement("textarea"); // a page served over plain http has no clipboard API
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
  };

  /** Code blocks under `root` copy their code when their button is pressed. */
  const copyButtons = (root) => {
    root.addEventListener("click", (event) => {
      const button = event.target.closest?.(".copy_code_button");
      if (!button || !root.contains(button)) return;
      const code = button.parentElement.querySelector("pre code");
      if (code) copy(code.textContent);
      button.classList.add("copied");
      setTimeout(() => button.classList.remove("copied"), 1500);
    });
  };

  /** Show `html` in `root`, keeping the top-level nodes that are as they were drawn: a streaming
   * answer changes at its end, and its earlier paragraphs (and their copy buttons) stay put. */
  const patch = (root, html) => {
    const next = document.createElement("template");
    next.innerHTML = html;
    const fresh = [...next.content.childNodes];
    const old = [...root.childNodes];
    fresh.forEach((node, index) => {
      const kept = old[index];
      if (kept && kept.r1Drawn && kept.r1Drawn.isEqualNode(node)) return;
      node.r1Drawn = node.cloneNode(true); // as drawn: what a person did to it since (copied) does not count
      if (kept) root.replaceChild(node, kept);
      else root.append(node);
    });
    for (const node of old.slice(fresh.length)) node.remove();
  };

  window.r1Markdown = { render, patch, copyButtons, escapeHtml };
})();
