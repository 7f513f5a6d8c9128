// The annotator app: fetch a unit, render it, collect the judgment with the keyboard (or
// the mouse), submit it, render the next unit from the submit response.
//
// Everything inside a unit (prompt, reference, candidates) is untrusted model output: it is
// put on the page with textContent / createTextNode only, never as HTML.
(function () {
  "use strict";

  const app = document.getElementById("annotate-app");
  if (!app) return;

  const urls = { next: app.dataset.nextUrl, submit: app.dataset.submitUrl, done: app.dataset.doneUrl };
  const byId = function (id) { return document.getElementById(id); };
  const ui = {
    unit: byId("unit"),
    prompt: byId("prompt"),
    promptLabel: byId("prompt-label"),
    referencePanel: byId("reference-panel"),
    reference: byId("reference"),
    widget: byId("widget"),
    notice: byId("notice"),
    loading: byId("loading"),
    doneCount: byId("done-count"),
    studyProgress: byId("study-progress"),
    studyPercent: byId("study-percent"),
    help: byId("help"),
    helpKeys: byId("help-keys"),
    helpButton: byId("help-button"),
    instructions: byId("instructions"),
  };

  // --- DOM helpers ----------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function kbd(label) {
    return el("kbd", "", label);
  }

  // Invisible or direction-changing characters are shown as visible markers, so that what
  // an annotator reads is what the text really contains.
  const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/g;

  function controlLabel(code) {
    if (code < 0x20) return String.fromCharCode(0x2400 + code); // control pictures: ␀ ␇ ␛ ...
    if (code === 0x7f) return "\u2421";
    return "U+" + code.toString(16).toUpperCase().padStart(4, "0");
  }

  function appendText(parent, text) {
    let last = 0;
    let match;
    CONTROL.lastIndex = 0;
    while ((match = CONTROL.exec(text)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      const code = match[0].charCodeAt(0);
      const mark = el("span", "ctrl", controlLabel(code));
      mark.title = "invisible character U+" + code.toString(16).toUpperCase().padStart(4, "0");
      parent.appendChild(mark);
      last = match.index + match[0].length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  // Text with ``` (or ~~~) fenced code blocks: prose keeps its line breaks (pre-wrap), code
  // goes in <pre><code>. An unclosed fence runs to the end, as in Markdown.
  const FENCE = /^ {0,3}(`{3,}|~{3,})([^`]*)$/;

  function renderRich(container, value) {
    container.replaceChildren();
    container.classList.add("rich");
    const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
    const lines = String(text === undefined ? "" : text).replace(/\r\n?/g, "\n").split("\n");
    let buffer = [];
    let fence = null;
    let lang = "";

    function flushText() {
      while (buffer.length && buffer[0].trim() === "") buffer.shift();
      while (buffer.length && buffer[buffer.length - 1].trim() === "") buffer.pop();
      if (buffer.length) {
        const para = el("div", "para");
        appendText(para, buffer.join("\n"));
        container.appendChild(para);
      }
      buffer = [];
    }

    function flushCode() {
      const figure = el("figure", "codeblock");
      if (lang) figure.appendChild(el("figcaption", "", lang));
      const pre = el("pre");
      const code = el("code");
      appendText(code, buffer.join("\n"));
      pre.appendChild(code);
      figure.appendChild(pre);
      container.appendChild(figure);
      buffer = [];
    }

    lines.forEach(function (line) {
      const m = FENCE.exec(line);
      if (fence === null && m) {
        flushText();
        fence = m[1];
        lang = m[2].trim().split(/\s+/)[0] || "";
        return;
      }
      if (fence !== null && m && m[1][0] === fence[0] && m[1].length >= fence.length && m[2].trim() === "") {
        flushCode();
        fence = null;
        lang = "";
        return;
      }
      buffer.push(line);
    });
    if (fence !== null) flushCode();
    else flushText();
    if (!container.childNodes.length) container.appendChild(el("div", "para muted", "(empty)"));
  }

  const ROLES = ["system", "user", "assistant", "tool"];

  function renderPrompt(prompt) {
    ui.prompt.replaceChildren();
    if (Array.isArray(prompt)) {
      ui.prompt.classList.remove("rich");
      const chat = el("div", "chat");
      prompt.forEach(function (message) {
        const role = message && typeof message.role === "string" ? message.role : "";
        const wrap = el("div", "msg role-" + (ROLES.indexOf(role) >= 0 ? role : "other"));
        wrap.appendChild(el("div", "role", role || "message"));
        const bubble = el("div", "bubble");
        renderRich(bubble, message && message.content != null ? message.content : "");
        wrap.appendChild(bubble);
        chat.appendChild(wrap);
      });
      ui.prompt.appendChild(chat);
      ui.promptLabel.textContent = "Conversation · " + prompt.length + " message" + (prompt.length === 1 ? "" : "s");
    } else {
      renderRich(ui.prompt, prompt == null ? "" : prompt);
      ui.promptLabel.textContent = "Prompt";
    }
  }

  // --- notices, progress, help ------------------------------------------------------------

  let noticeTag = null;

  function notice(kind, title, text, action, tag) {
    ui.notice.className = "notice" + (kind === "info" ? "" : " notice-" + kind);
    ui.notice.replaceChildren();
    ui.notice.appendChild(el("h2", "", title));
    if (text) ui.notice.appendChild(el("p", "", text));
    if (action) {
      const button = el("button", "btn small", action.label);
      button.type = "button";
      button.addEventListener("click", action.run);
      const p = el("p");
      p.appendChild(button);
      ui.notice.appendChild(p);
    }
    ui.notice.hidden = false;
    noticeTag = tag || null;
  }

  function clearNotice(tag) {
    if (tag === undefined || tag === noticeTag) {
      ui.notice.hidden = true;
      ui.notice.replaceChildren();
      noticeTag = null;
    }
  }

  function errorText(data, fallback) {
    if (!data) return fallback;
    const parts = [];
    if (data.detail) parts.push(String(data.detail));
    if (data.errors && typeof data.errors === "object") {
      Object.keys(data.errors).forEach(function (field) {
        parts.push(field + ": " + String(data.errors[field]));
      });
    }
    return parts.length ? parts.join(" — ") : fallback;
  }

  function showProgress(progress) {
    if (!progress) return;
    ui.doneCount.textContent = String(progress.done);
    const pct = progress.study_target ? Math.round((1000 * progress.study_judgments) / progress.study_target) / 10 : 0;
    ui.studyProgress.value = Math.min(100, pct);
    ui.studyPercent.textContent = "study " + pct + "%";
  }

  const COMMON_KEYS = [
    [["?"], "Show or hide this help"],
    [["I"], "Show or hide the instructions"],
    [["↑", "↓"], "Scroll both responses (PgUp / PgDn: a page)"],
    [["Esc"], "Close this help, or leave the text box"],
  ];

  function renderHelp(shortcuts) {
    ui.helpKeys.replaceChildren();
    shortcuts.concat(COMMON_KEYS).forEach(function (entry) {
      const tr = el("tr");
      const keys = el("td");
      entry[0].forEach(function (k) { keys.appendChild(kbd(k)); });
      tr.appendChild(keys);
      tr.appendChild(el("td", "", entry[1]));
      ui.helpKeys.appendChild(tr);
    });
  }

  function toggleHelp(show) {
    const open = show === undefined ? ui.help.hidden : show;
    ui.help.hidden = !open;
  }

  ui.helpButton.addEventListener("click", function () { toggleHelp(true); });
  ui.help.addEventListener("click", function (event) {
    if (event.target === ui.help) toggleHelp(false);
  });

  // --- talking to the API -----------------------------------------------------------------

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // Resolves to {status, ok, data}; rejects only when the network fails.
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
      body: body === undefined ? "{}" : body,
    }).then(function (res) {
      return res.json().then(
        function (data) { return { status: res.status, ok: res.ok, data: data }; },
        function () { return { status: res.status, ok: res.ok, data: null }; }
      );
    });
  }

  function sleep(ms) {
    return new Promise(function (resolve) { window.setTimeout(resolve, ms); });
  }

  function backoff(attempt) {
    return Math.min(10000, 400 * Math.pow(2, attempt - 1)) + Math.random() * 250;
  }

  function transient(result) {
    return result === null || result.status >= 500 || result.status === 429 || result.status === 0;
  }

  function newKey() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    const b = window.crypto.getRandomValues(new Uint8Array(16)); // insecure origins lack randomUUID
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const hex = Array.prototype.map.call(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  // --- the flow ---------------------------------------------------------------------------

  let current = null; // {unit, key, shownAt}: the key is made once per unit, reused on retry
  let widget = null;
  let busy = false;

  async function loadNext() {
    let attempt = 0;
    ui.loading.hidden = !ui.unit.hidden;
    for (;;) {
      let result = null;
      try {
        result = await post(urls.next);
      } catch (err) {
        result = null;
      }
      if (transient(result)) {
        attempt += 1;
        notice("warn", "Connection problem", "Could not reach the server; trying again…", null, "net");
        await sleep(backoff(attempt));
        continue;
      }
      clearNotice("net");
      if (result.ok && result.data) {
        clearNotice("stop");
        showProgress(result.data.progress);
        if (result.data.unit) showUnit(result.data.unit);
        else finish();
        return;
      }
      stop(result);
      return;
    }
  }

  function stop(result) {
    widget = null;
    current = null;
    ui.unit.hidden = true;
    ui.loading.hidden = true;
    const detail = errorText(result.data, "The server refused the request (HTTP " + result.status + ").");
    if (result.status === 403 && /paused|closed|draft/i.test(detail)) {
      notice("warn", /closed/i.test(detail) ? "This study is closed" : "Annotation is paused", detail + " Your judgments so far are saved.", { label: "Try again", run: loadNext }, "stop");
    } else {
      notice("error", "Cannot continue", detail, { label: "Reload", run: function () { window.location.reload(); } }, "stop");
    }
  }

  // Instructions start open for a newcomer and fold away after the first judgment (I
  // brings them back), leaving the room to the candidates.
  let instructionsFolded = false;
  function collapseInstructionsOnce() {
    if (!instructionsFolded && ui.instructions) ui.instructions.open = false;
    instructionsFolded = true;
  }

  function finish() {
    window.location.assign(urls.done);
  }

  function showUnit(unit) {
    current = { unit: unit, key: newKey(), shownAt: performance.now() };
    renderPrompt(unit.prompt);
    if (unit.reference) {
      renderRich(ui.reference, unit.reference);
      ui.referencePanel.hidden = false;
    } else {
      ui.reference.replaceChildren();
      ui.referencePanel.hidden = true;
    }
    const type = unit.task && unit.task.type;
    const make = WIDGETS[type];
    if (!make) {
      widget = null;
      ui.widget.replaceChildren();
      notice("error", "Unsupported task", "This task type (" + String(type) + ") has no browser widget yet.");
      return;
    }
    widget = make(unit, { submit: submit });
    ui.widget.replaceChildren(widget.root);
    renderHelp(widget.shortcuts());
    ui.loading.hidden = true;
    ui.unit.hidden = false;
    // A conversation is shown from its end: the last turn is what the candidates answer.
    ui.prompt.scrollTop = Array.isArray(unit.prompt) ? ui.prompt.scrollHeight : 0;
    ui.unit.dataset.unitId = String(unit.unit_id);
    if (document.activeElement && document.activeElement !== document.body && ui.unit.contains(document.activeElement)) {
      document.activeElement.blur();
    }
    const top = ui.unit.getBoundingClientRect().top;
    if (top < 0) window.scrollBy(0, top - 8);
  }

  async function submit() {
    if (busy || !current || !widget) return;
    const response = widget.response();
    if (!response) return;
    busy = true;
    widget.setBusy(true);
    const sent = current;
    // Built once: a retry after a network failure sends the very same judgment and key, so
    // the server stores it exactly once.
    const body = JSON.stringify({
      response: response,
      idempotency_key: sent.key,
      duration_ms: Math.max(0, Math.round(performance.now() - sent.shownAt)),
    });
    const url = urls.submit.replace(/\/0\/submit\/$/, "/" + encodeURIComponent(sent.unit.assignment_id) + "/submit/");
    let attempt = 0;
    try {
      for (;;) {
        let result = null;
        try {
          result = await post(url, body);
        } catch (err) {
          result = null;
        }
        if (transient(result)) {
          attempt += 1;
          notice("warn", "Connection problem", "Your judgment is kept and will be sent as soon as the server answers (attempt " + (attempt + 1) + ")…", null, "net");
          await sleep(backoff(attempt));
          continue;
        }
        if (result.ok && result.data) {
          clearNotice();
          collapseInstructionsOnce();
          const following = result.data.next || {};
          showProgress(following.progress);
          if (following.unit) showUnit(following.unit);
          else await loadNext(); // nothing left, or the study was paused meanwhile: ask once
          return;
        }
        const detail = errorText(result.data, "HTTP " + result.status);
        if (result.status === 400) {
          notice("error", "This judgment was not accepted", detail);
        } else if (result.status === 404 || result.status === 409) {
          notice("warn", "That unit was not stored", detail + " Here is the next one.");
          await loadNext();
        } else {
          stop(result);
        }
        return;
      }
    } finally {
      busy = false;
      if (widget) widget.setBusy(false);
    }
  }

  // --- keyboard ---------------------------------------------------------------------------

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    const target = event.target;
    const typing = target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT" || target.isContentEditable);
    if (event.key === "Escape") {
      if (!ui.help.hidden) toggleHelp(false);
      else if (typing) target.blur();
      else return;
      event.preventDefault();
      return;
    }
    if (typing) {
      // The rationale box: Enter submits (Shift+Enter is a new line).
      if (event.key === "Enter" && !event.shiftKey && target.hasAttribute("data-enter-submits") && widget && !busy) {
        event.preventDefault();
        widget.key("Enter");
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "?") {
      toggleHelp();
      event.preventDefault();
      return;
    }
    if (!ui.help.hidden) return;
    if ((event.key === "i" || event.key === "I") && ui.instructions) {
      ui.instructions.open = !ui.instructions.open;
      event.preventDefault();
      return;
    }
    if (!widget) return;
    const scrolling = ["ArrowUp", "ArrowDown", "PageUp", "PageDown"].indexOf(event.key) >= 0;
    if (!scrolling && (busy || event.repeat)) {
      if (busy) event.preventDefault();
      return;
    }
    if (widget.key(event.key)) event.preventDefault();
  });

  // --- task widgets -----------------------------------------------------------------------

  const WIDGETS = { pairwise: pairwiseWidget };

  // Pairwise: two candidates side by side (A left, B right, in the display order the server
  // chose), one choice row overall, a strength row when the study has a scale and A or B was
  // chosen, one row per aspect, and an optional rationale. Keys act on the current row and
  // move on. The response names candidate ids, never left/right.
  function pairwiseWidget(unit, hooks) {
    const config = (unit.task && unit.task.config) || {};
    const candidates = unit.candidates || [];
    const root = el("div", "pairwise");
    if (candidates.length !== 2) {
      root.appendChild(el("p", "error", "A pairwise unit needs exactly two candidates; this one has " + candidates.length + "."));
      return { root: root, key: function () { return false; }, response: function () { return null; }, setBusy: function () {}, shortcuts: function () { return []; } };
    }
    const scaleMax = Array.isArray(config.strength_scale) ? Math.abs(Number(config.strength_scale[1])) || 0 : 0;
    const aspects = Array.isArray(config.aspects) ? config.aspects.map(String) : [];
    const rationaleMode = config.rationale === "optional" || config.rationale === "required" ? config.rationale : "off";
    const options = [{ value: "left", label: "A is better", keys: ["1", "←"] }];
    if (config.allow_tie) options.push({ value: "tie", label: "Tie", keys: ["T"] });
    if (config.allow_both_bad) options.push({ value: "both_bad", label: "Both bad", keys: ["X"] });
    options.push({ value: "right", label: "B is better", keys: ["2", "→"] });
    const state = { choice: null, strength: null, aspects: new Map(), rationale: "", row: 0, attention: false };
    let busyNow = false;

    // Candidates.
    const grid = el("div", "candidates");
    const panes = candidates.map(function (cand, index) {
      const side = index === 0 ? "left" : "right";
      const article = el("article", "cand");
      article.dataset.side = side;
      article.dataset.candidateId = String(cand.id);
      const head = el("div", "cand-head");
      head.appendChild(el("span", "name", index === 0 ? "Response A" : "Response B"));
      const hint = el("span", "small muted");
      (index === 0 ? ["1", "←"] : ["2", "→"]).forEach(function (k) { hint.appendChild(kbd(k)); hint.appendChild(document.createTextNode(" ")); });
      head.appendChild(hint);
      const body = el("div", "cand-body");
      body.tabIndex = 0;
      body.setAttribute("aria-label", index === 0 ? "Response A" : "Response B");
      renderRich(body, cand.text == null ? "" : cand.text);
      article.appendChild(head);
      article.appendChild(body);
      grid.appendChild(article);
      return { article: article, body: body };
    });
    root.appendChild(grid);

    // Choice bar: the rows (and rationale) on the left, submit on the right.
    const bar = el("div", "choicebar");
    const area = el("div", "choice-area");
    const rowsBox = el("div", "choice-rows");
    area.appendChild(rowsBox);
    let textarea = null;
    if (rationaleMode !== "off") {
      const box = el("div", "rationale");
      const label = el("label", "row-label", "Rationale");
      textarea = el("textarea");
      textarea.id = "rationale-" + unit.assignment_id;
      label.htmlFor = textarea.id;
      textarea.rows = 2;
      textarea.maxLength = 5000;
      textarea.placeholder = (rationaleMode === "required" ? "Required" : "Optional") + ": why? (R to write here, Enter to submit, Shift+Enter for a new line, Esc to leave)";
      textarea.required = rationaleMode === "required";
      textarea.setAttribute("data-enter-submits", "");
      textarea.addEventListener("input", function () {
        state.rationale = textarea.value;
        update();
      });
      box.appendChild(label);
      box.appendChild(textarea);
      area.appendChild(box);
    }
    bar.appendChild(area);
    const submitBox = el("div", "submit-box");
    const submitButton = el("button", "btn primary");
    submitButton.type = "button";
    submitButton.appendChild(document.createTextNode("Submit "));
    submitButton.appendChild(kbd("Enter"));
    submitButton.addEventListener("click", trySubmit);
    const submitHint = el("div", "submit-hint");
    submitBox.appendChild(submitButton);
    submitBox.appendChild(submitHint);
    bar.appendChild(submitBox);
    root.appendChild(bar);

    function rows() {
      const list = [{ id: "choice", kind: "choice", label: "Overall" }];
      if (scaleMax && (state.choice === "left" || state.choice === "right")) {
        list.push({ id: "strength", kind: "strength", label: "Strength" });
      }
      aspects.forEach(function (aspect, i) {
        list.push({ id: "aspect-" + i, kind: "choice", aspect: aspect, label: aspect });
      });
      return list;
    }

    function valueOf(row) {
      if (row.id === "choice") return state.choice;
      if (row.id === "strength") return state.strength;
      return state.aspects.has(row.aspect) ? state.aspects.get(row.aspect) : null;
    }

    function setValue(row, value) {
      if (row.id === "choice") {
        if (value !== state.choice) state.strength = null;
        state.choice = value;
      } else if (row.id === "strength") {
        state.strength = value;
      } else {
        state.aspects.set(row.aspect, value);
      }
    }

    function firstMissing() {
      const list = rows();
      for (let i = 0; i < list.length; i++) if (valueOf(list[i]) === null) return i;
      return -1;
    }

    function complete() {
      return firstMissing() < 0 && (rationaleMode !== "required" || state.rationale.trim() !== "");
    }

    function missingText() {
      const list = rows();
      const i = firstMissing();
      if (i >= 0) {
        const row = list[i];
        if (row.kind === "strength") return "Choose how much better (1–" + scaleMax + ")";
        if (row.aspect !== undefined) return "Choose for “" + row.aspect + "”";
        return "Choose which response is better";
      }
      if (rationaleMode === "required" && !state.rationale.trim()) return "Write a short rationale (R)";
      return "";
    }

    // After a choice: the next unanswered row below, else the first unanswered, else stay.
    function advance() {
      const list = rows();
      for (let i = state.row + 1; i < list.length; i++) {
        if (valueOf(list[i]) === null) { state.row = i; return; }
      }
      const missing = firstMissing();
      if (missing >= 0) state.row = missing;
      else state.row = Math.min(state.row, list.length - 1);
      if (missing < 0 && rationaleMode === "required" && !state.rationale.trim() && textarea) textarea.focus();
    }

    function choose(rowIndex, value) {
      const list = rows();
      if (rowIndex < 0 || rowIndex >= list.length) return;
      state.row = rowIndex;
      setValue(list[rowIndex], value);
      state.attention = false;
      advance();
      update();
    }

    function update() {
      const list = rows();
      if (state.row >= list.length) state.row = list.length - 1;
      rowsBox.replaceChildren();
      list.forEach(function (row, index) {
        const line = el("div", "choice-row" + (index === state.row ? " current" : ""));
        line.dataset.row = row.id;
        const label = el("div", "row-label", row.label);
        label.title = row.label;
        if (valueOf(row) !== null) label.appendChild(el("span", "done-mark", "✓"));
        line.appendChild(label);
        const buttons = el("div", "choice-buttons");
        if (row.kind === "strength") {
          for (let point = 1; point <= scaleMax; point++) {
            const words = point === 1 ? " slightly" : point === scaleMax ? " much" : "";
            const button = choiceButton(String(point) + words, [point === 10 ? "0" : String(point)], state.strength === point, index, point);
            button.classList.add("strength");
            buttons.appendChild(button);
          }
        } else {
          const value = valueOf(row);
          options.forEach(function (option, i) {
            if (option.value === "right" && options.length > 2) buttons.appendChild(el("span", "spacer"));
            buttons.appendChild(choiceButton(option.label, option.keys, value === option.value, index, option.value));
            if (option.value === "left" && options.length > 2) buttons.appendChild(el("span", "spacer"));
            return i;
          });
        }
        line.appendChild(buttons);
        rowsBox.appendChild(line);
      });
      const side = state.choice;
      panes[0].article.classList.toggle("picked", side === "left");
      panes[1].article.classList.toggle("picked", side === "right");
      panes[0].article.classList.toggle("dimmed", side === "right");
      panes[1].article.classList.toggle("dimmed", side === "left");
      const ready = complete();
      submitButton.disabled = !ready || busyNow;
      submitHint.textContent = busyNow ? "Sending…" : ready ? "Ready: press Enter" : missingText();
      submitHint.classList.toggle("attention", state.attention && !ready);
    }

    function choiceButton(label, keys, selected, rowIndex, value) {
      const button = el("button", "btn choice" + (selected ? " selected" : ""));
      button.type = "button";
      button.dataset.value = String(value);
      button.setAttribute("aria-pressed", selected ? "true" : "false");
      button.appendChild(document.createTextNode(label + " "));
      keys.forEach(function (k) { button.appendChild(kbd(k)); });
      button.addEventListener("click", function () {
        if (!busyNow) choose(rowIndex, value);
      });
      return button;
    }

    function trySubmit() {
      if (busyNow) return;
      if (!complete()) {
        state.attention = true;
        const missing = firstMissing();
        if (missing >= 0) state.row = missing;
        else if (textarea) textarea.focus();
        update();
        return;
      }
      hooks.submit();
    }

    function scrollPanes(amount) {
      panes.forEach(function (pane) {
        const step = amount === "page" ? pane.body.clientHeight * 0.85 : amount === "-page" ? -pane.body.clientHeight * 0.85 : amount;
        pane.body.scrollBy({ top: step });
      });
    }

    function key(name) {
      const list = rows();
      const row = list[state.row];
      switch (name) {
        case "Enter":
          trySubmit();
          return true;
        case "Backspace":
          if (state.row > 0) {
            state.row -= 1;
            update();
          }
          return true;
        case "ArrowUp":
          scrollPanes(-80);
          return true;
        case "ArrowDown":
          scrollPanes(80);
          return true;
        case "PageUp":
          scrollPanes("-page");
          return true;
        case "PageDown":
          scrollPanes("page");
          return true;
        case "r":
        case "R":
          if (textarea) {
            textarea.focus();
            return true;
          }
          return false;
      }
      if (!row) return false;
      if (row.kind === "strength") {
        const point = name === "0" ? 10 : /^[1-9]$/.test(name) ? Number(name) : NaN;
        if (point >= 1 && point <= scaleMax) {
          choose(state.row, point);
          return true;
        }
        return false;
      }
      const lower = name.length === 1 ? name.toLowerCase() : name;
      let value = null;
      if (lower === "1" || lower === "ArrowLeft") value = "left";
      else if (lower === "2" || lower === "ArrowRight") value = "right";
      else if (lower === "t" && config.allow_tie) value = "tie";
      else if (lower === "x" && config.allow_both_bad) value = "both_bad";
      if (value === null) return false;
      choose(state.row, value);
      return true;
    }

    function idFor(side) {
      if (side === "left") return candidates[0].id;
      if (side === "right") return candidates[1].id;
      return side; // "tie" or "both_bad"
    }

    function response() {
      if (!complete()) return null;
      const out = { choice: idFor(state.choice) };
      if (scaleMax && (state.choice === "left" || state.choice === "right")) out.strength = state.strength;
      if (aspects.length) {
        out.aspects = Object.fromEntries(aspects.map(function (a) { return [a, idFor(state.aspects.get(a))]; }));
      }
      if (rationaleMode !== "off") out.rationale = state.rationale;
      return out;
    }

    function setBusy(flag) {
      busyNow = flag;
      if (textarea) textarea.readOnly = flag;
      update();
    }

    function shortcuts() {
      const list = [
        [["1", "←"], "Response A (left) is better"],
        [["2", "→"], "Response B (right) is better"],
      ];
      if (config.allow_tie) list.push([["T"], "Tie: equally good"]);
      if (config.allow_both_bad) list.push([["X"], "Both are bad"]);
      if (scaleMax) list.push([["1", "…", String(scaleMax)], "How much better (after choosing A or B)"]);
      if (aspects.length || scaleMax) list.push([["Backspace"], "Back to the previous row"]);
      if (textarea) list.push([["R"], "Write the rationale"]);
      list.push([["Enter"], "Submit, once everything required is chosen"]);
      return list;
    }

    update();
    return { root: root, key: key, response: response, setBusy: setBusy, shortcuts: shortcuts };
  }

  loadNext();
})();
