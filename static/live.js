// The answer being written, read from the app's own stream: Enter or Send in the chat posts
// the message to `POST api/conversations/{id}/messages` (Server-Sent Events) and this script
// shows it as it comes, in bubbles of its own under the chat. When the stream ends (done,
// error, Stop), Gradio takes over again (webapp/ui/live.py): it shows the conversation as
// stored, and the live bubbles go in the same frame as the stored ones come.
//
// Whatever this script cannot do goes to Gradio's own send: a page without the features it
// needs, a send while the page is switching chats, a message the API refuses (Gradio then
// refuses it too, in the page's words, and the text stays in the box).
(() => {
  "use strict";
  if (window.r1Live) return;
  const config = window.R1_LIVE || {};
  const words = () => (config.words || {})[document.documentElement.lang.startsWith("zh") ? "zh" : "en"] || {};
  const $ = (selector) => document.querySelector(selector);
  const box = () => $("#prompt textarea");
  const sendButton = () => $("#send");
  const scroller = () => $("#chat .bubble-wrap");
  const FOLLOW_WITHIN = 48; // px from the bottom: the view follows the answer while the reader is there
  const HANDOFF_WAIT = 10000; // ms: Gradio's stored chat not shown by then, the live bubbles go anyway

  let live = null; // the send under way

  const capable = () =>
    typeof fetch === "function" && typeof AbortController === "function" && typeof TextDecoderStream === "function" &&
    window.r1Markdown && window.marked && window.DOMPurify && window.katex &&
    box() && sendButton() && scroller() && $("#current textarea") && $("#live-over");

  const setBox = (text) => {
    const area = box();
    area.value = text;
    area.dispatchEvent(new Event("input", { bubbles: true })); // Gradio's value follows the element's
  };

  const element = (tag, className, parent) => {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (parent) parent.append(node);
    return node;
  };

  const linkKatexStyles = () => {
    if (!config.katexCss || document.querySelector(`link[href="${config.katexCss}"]`)) return;
    const link = element("link", "", document.head);
    link.rel = "stylesheet";
    link.href = config.katexCss;
  };

  const storedRows = () => document.querySelectorAll("#chat .message-row:not(.live-row)").length;

  // A new chat's empty state gives way to the live bubbles. Styled on its own node: a class on the
  // chat would have the browser restyle the whole conversation just as the request leaves.
  const emptyState = (shown) => {
    for (const node of document.querySelectorAll("#chat .placeholder-content")) node.style.display = shown ? "" : "none";
  };

  // -- the live bubbles ------------------------------------------------------------------------

  // Rows and bodies as the chat's (`.message-row`, `.message > [data-testid]`): the page's folding
  // (webapp/ui/folding.py) folds a long message at once and leaves the answer being written whole.
  const bubbles = (text, showThought) => {
    const wrap = element("div", "live-wrap");
    const user = element("div", "live-bubble message", element("div", "live-row live-user message-row user-row", wrap));
    const said = element("div", "md chatbot prose", user);
    said.dataset.testid = "user";
    said.innerHTML = window.r1Markdown.render(text);
    const bot = element("div", "live-bubble message", element("div", "live-row live-bot message-row bot-row", wrap));
    const thought = element("div", "live-thought", bot);
    thought.hidden = true;
    const title = element("button", "live-thought-title", thought);
    title.type = "button";
    title.setAttribute("aria-expanded", "true");
    const label = element("span", "live-thought-label", title);
    const spinner = element("span", "live-spinner", title);
    const thoughtBody = element("div", "live-thought-body md chatbot prose", thought);
    title.addEventListener("click", () => {
      const open = title.getAttribute("aria-expanded") !== "true";
      title.setAttribute("aria-expanded", String(open));
      thoughtBody.hidden = !open;
    });
    const notice = element("div", "live-notice", bot);
    notice.hidden = true;
    const answer = element("div", "live-answer md chatbot prose", bot);
    answer.dataset.testid = "bot";
    window.r1Markdown.copyButtons(wrap);
    return { wrap, thought, label, spinner, thoughtBody, notice, answer, showThought };
  };

  const thoughtTitle = (state) => {
    const seconds = ((state.answerBegan ?? performance.now()) - state.started) / 1000;
    if (state.answerBegan === null) return `${words().thinking} ${seconds.toFixed(0)}s`;
    // As the stored chat's (webapp/ui/bubbles.py): a quick thought says "<0.1s", not "0.0s".
    return `${words().thought} (${seconds < 0.1 ? words().thought_quick : `${seconds.toFixed(1)}s`})`;
  };

  const draw = (state) => {
    const view = state.view;
    if (state.reasoning && view.showThought) {
      view.thought.hidden = false;
      view.label.textContent = thoughtTitle(state);
      view.spinner.hidden = state.answerBegan !== null;
      if (state.drawn.reasoning !== state.reasoning) {
        window.r1Markdown.patch(view.thoughtBody, window.r1Markdown.render(state.reasoning));
        state.drawn.reasoning = state.reasoning;
      }
      if (state.answerBegan !== null && !state.drawn.folded) {
        state.drawn.folded = true; // like the chat's thought block: open while thinking, closed after
        view.thought.querySelector(".live-thought-title").setAttribute("aria-expanded", "false");
        view.thoughtBody.hidden = true;
      }
    }
    if (state.notice && view.notice.hidden) {
      view.notice.hidden = false;
      element("sub", "", view.notice).textContent = `ℹ️ ${state.notice}`;
    }
    if (state.drawn.answer !== state.answer) {
      window.r1Markdown.patch(view.answer, window.r1Markdown.render(state.answer));
      state.drawn.answer = state.answer;
    }
    follow(state);
  };

  // The view follows the answer while the reader is at its end: scrolled in the next frame, when the
  // page lays itself out anyway (reading the layout here would force it, on every piece).
  const follow = (state) => {
    if (!state.follow || state.scrolling) return;
    state.scrolling = true;
    requestAnimationFrame(() => {
      state.scrolling = false;
      const place = scroller();
      if (!place || !state.follow || state.detached) return;
      place.scrollTop = place.scrollHeight;
      state.scrolledTo = place.scrollTop;
    });
  };

  // At most one drawing a frame, however many pieces came: the first piece at once.
  const later = (state) => {
    if (!state.drawn.any) {
      state.drawn.any = true;
      draw(state);
      return;
    }
    if (state.queued) return;
    state.queued = true;
    requestAnimationFrame(() => {
      state.queued = false;
      if (!state.detached) draw(state);
    });
  };

  // -- the stream ------------------------------------------------------------------------------

  const post = (path, body, signal) =>
    fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });

  const read = async (state, response) => {
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let rest = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      const lines = (rest + value).split("\n");
      rest = lines.pop();
      for (const line of lines) {
        if (!line.startsWith("data: ")) continue;
        const event = JSON.parse(line.slice(6));
        if (event.type === "reasoning") state.reasoning += event.text;
        else if (event.type === "content") {
          if (state.answerBegan === null) state.answerBegan = performance.now();
          state.answer += event.text;
        } else if (event.type === "notice") state.notice = event.text;
        else if (event.type === "done" || event.type === "error") return;
        if (!state.detached) later(state);
      }
    }
  };

  // Refused before anything was stored: the text goes back in the box and Gradio sends it
  // (and says why it cannot, in the page's words).
  const toGradio = (state) => {
    state.view.wrap.remove();
    emptyState(true);
    live = null;
    sendButton().disabled = false;
    setBox(state.text);
    sendButton().click();
  };

  const message = (state) =>
    post(`api/conversations/${encodeURIComponent(state.conversation)}/messages`,
      { content: state.text, saved_settings: true }, state.controller.signal);

  const start = async (text) => {
    const conversation = $("#current textarea").value.trim() || null;
    const controller = new AbortController();
    const state = {
      text, conversation, view: null, reasoning: "", answer: "", notice: "", started: performance.now(),
      answerBegan: null, drawn: { any: false }, queued: false, detached: false, follow: true, controller,
      rows: storedRows(),
    };
    // The request leaves first; the page's own work (the bubbles, the box) is done while it travels.
    const leaving = conversation === null ? post("api/conversations", {}, controller.signal) : message(state);
    leaving.catch(() => {}); // awaited below: a failure is handled there
    live = state;
    linkKatexStyles();
    state.view = bubbles(text, $("#show-reasoning input[type=checkbox]")?.checked ?? true);
    emptyState(false);
    scroller().append(state.view.wrap);
    follow(state);
    setBox("");
    sendButton().disabled = true; // Stop takes its place (static/style.css)
    const ticking = setInterval(() => {
      if (state.detached) return;
      if (shownElsewhere(state)) detach();
      else if (state.reasoning) later(state); // the thought's timer
    }, 1000);
    let sent = false;
    try {
      let response = await leaving;
      if (conversation === null) {
        if (!response.ok) return toGradio(state);
        state.conversation = (await response.json()).id;
        state.made = true;
        response = await message(state);
      }
      if (!response.ok) {
        // The chat made for this message goes before Gradio's send says why: no empty chat is
        // left in the list, even for a moment.
        if (state.made) await fetch(`api/conversations/${state.conversation}`, { method: "DELETE" }).catch(() => {});
        return toGradio(state);
      }
      sent = true;
      if (state.made) listNew(state);
      await read(state, response);
    } catch (error) {
      // Stopped (the stream aborted: the app keeps the partial answer), or the connection
      // failed: what was stored is shown, and an unsent message is put back in the box.
      if (!sent && box().value === "") setBox(text);
    } finally {
      clearInterval(ticking);
    }
    if (state.conversation !== null && (sent || state.made)) handOver(state);
    else finish(state);
  };

  // A new chat is listed (and made the page's) once its message is stored, as the answer begins.
  const listNew = (state) => {
    if (state.listed || state.detached) return;
    state.listed = true;
    window.r1Live.began = state.conversation;
    $("#live-began")?.click();
  };

  // -- Gradio takes over -----------------------------------------------------------------------

  const finish = (state) => {
    if (live === state) live = null;
    state.view.wrap.remove();
    if (!document.querySelector(".live-wrap")) emptyState(true);
    if (!state.detached) sendButton().disabled = false;
  };

  // The conversation as stored replaces the live bubbles when its rows are in the chat.
  const handOver = (state) => {
    if (state.detached) return finish(state);
    draw(state);
    const chat = $("#chat");
    const expected = state.rows + 2; // the message's row and the answer's
    const shown = () => storedRows() >= expected;
    const watch = new MutationObserver(() => {
      if (!shown()) return;
      watch.disconnect();
      clearTimeout(timer);
      finish(state);
    });
    const timer = setTimeout(() => {
      watch.disconnect();
      finish(state);
    }, HANDOFF_WAIT);
    watch.observe(chat, { subtree: true, childList: true });
    // A new chat: its listing (`#live-began`) is the page's first, so that the app knows the page shows
    // it and may leave the page alone if the person goes elsewhere before the stored chat comes
    // (webapp/ui/live.py `on_over`). Then the stored chat is asked for.
    const asked = performance.now();
    const ask = () => {
      const listed = !state.made || $("#current textarea")?.value === String(state.conversation);
      if (!listed && performance.now() - asked < HANDOFF_WAIT) return void setTimeout(ask, 20);
      window.r1Live.handedOver = state.conversation;
      $("#live-over").click();
    };
    ask();
  };

  // The page opens another chat (or a new one) while an answer is written: it goes on unseen,
  // and is there, whole, when the person comes back (as with Gradio's own turns).
  const detach = () => {
    if (!live || live.detached) return;
    live.detached = true;
    const state = live;
    live = null;
    state.view.wrap.remove();
    emptyState(true);
    sendButton().disabled = false;
  };

  // Scrolled up, the reader stops the view following; back at the end, it follows again.
  document.addEventListener("scroll", (event) => {
    if (!live || event.target !== scroller()) return;
    const place = event.target;
    if (place.scrollHeight - place.scrollTop - place.clientHeight < FOLLOW_WITHIN) live.follow = true;
    else if (place.scrollTop < (live.scrolledTo ?? 0) - 2) live.follow = false; // up from where it was taken
  }, { capture: true, passive: true });

  // -- the page's keys and buttons --------------------------------------------------------------

  const MENUS = "button, a, input, [role=menu], [role=menuitem]"; // a list item's own controls open no chat
  // Another chat shown meanwhile (however it was opened): the answer goes on unseen.
  const shownElsewhere = (state) => {
    const current = $("#current textarea")?.value || "";
    return current !== "" && state.conversation !== null && current !== state.conversation;
  };

  const mayTake = (event) =>
    event.isTrusted && !live && !window.heldSends?.pending && !sendButton()?.disabled && capable();

  const take = (event) => {
    const text = box().value;
    if (!text.trim()) return; // Gradio says it is empty
    event.preventDefault();
    event.stopImmediatePropagation();
    start(text).catch((error) => console.error("live answer:", error));
  };

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
    if (event.target.matches?.("#conversations .chat-item")) detach();
    else if (event.target === box() && mayTake(event)) take(event);
  }, true);

  document.addEventListener("click", (event) => {
    const target = event.target;
    if (!target.closest) return;
    if (target.closest("#stop") && live) {
      event.preventDefault();
      event.stopImmediatePropagation();
      live.controller.abort();
    } else if (target.closest("#send") && mayTake(event)) take(event);
    else if (target.closest("#new-chat") || (target.closest("#conversations .chat-item") && !target.closest(MENUS))) {
      detach();
    }
  }, true);

  // A send the page held while it loaded (webapp/ui/sidebar.py): it goes now, to the chat the load opened.
  const sendHeld = () => {
    if (live || sendButton()?.disabled || !capable() || !box().value.trim()) return false;
    start(box().value).catch((error) => console.error("live answer:", error));
    return true;
  };

  window.r1Live = { began: null, handedOver: null, busy: () => live !== null, sendHeld };
})();
