// The annotator app: fetch a unit (and the one after it, in advance), render it, collect the
// judgment with the keyboard (or the mouse), show the following unit at once and submit the
// judgment in the background. The judgment itself is collected by the task type's widget
// (widgets/<type>.js, registered in widgets/common.js).
//
// Everything inside a unit (prompt, reference, candidates) is untrusted model output: it is
// put on the page with textContent / createTextNode only, never as HTML.
(function () {
  "use strict";

  const app = document.getElementById("annotate-app");
  if (!app) return;

  const urls = { next: app.dataset.nextUrl, submit: app.dataset.submitUrl, done: app.dataset.doneUrl };
  // A crowd worker with a quota goes to the completion page once it is earned; the page
  // decides (only regular units count, and the quality checks must pass).
  const crowdQuota = Number(app.dataset.crowdQuota) || 0;
  const byId = function (id) { return document.getElementById(id); };
  const ui = {
    unit: byId("unit"),
    prompt: byId("prompt"),
    promptLabel: byId("prompt-label"),
    promptPanel: byId("prompt-panel"),
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

  const T = window.Trenchcoat;
  const el = T.dom.el;
  const kbd = T.dom.kbd;
  const renderRich = T.dom.renderRich;

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
    [["↑", "↓"], "Scroll the texts (PgUp / PgDn: a page)"],
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

  // The page holds the unit on screen and, fetched in advance (?ahead=1), the one after it:
  // answering shows the following unit at once, and the judgment goes to the server in the
  // background, from an outbox sent in order and retried until the server answers. The
  // server's answer to each submit carries the unit on screen again and a new one ahead.
  let current = null; // {unit, key, shownAt}: the key is made once per unit, reused on retry
  let ahead = null; // the following unit, leased already, not shown yet
  let widget = null;
  let busy = false; // no unit to answer on screen (waiting for the server)
  const outbox = []; // judgments answered but not yet acknowledged: [{unit, body}]
  let sending = false;
  let stopped = false;

  function withAhead(url) {
    return url + (url.indexOf("?") >= 0 ? "&" : "?") + "ahead=1";
  }

  // Units the server offers that are not on screen and not answered already.
  function fresh(units) {
    const taken = outbox.map(function (entry) { return entry.unit.assignment_id; });
    if (current) taken.push(current.unit.assignment_id);
    return units.filter(function (unit) { return unit && taken.indexOf(unit.assignment_id) < 0; });
  }

  function waitForServer() {
    busy = true;
    if (widget) widget.setBusy(true);
    ui.unit.hidden = true;
    ui.loading.hidden = false;
  }

  async function loadNext() {
    let attempt = 0;
    stopped = false;
    ui.loading.hidden = !ui.unit.hidden;
    for (;;) {
      let result = null;
      try {
        result = await post(withAhead(urls.next));
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
        current = null;
        const units = fresh([result.data.unit, result.data.ahead]);
        ahead = units[1] || null;
        if (units[0]) showUnit(units[0]);
        else finish();
        return;
      }
      stop(result);
      return;
    }
  }

  // The widget on screen goes away: it may hold document-level listeners.
  function dropWidget() {
    if (widget && typeof widget.destroy === "function") widget.destroy();
    widget = null;
  }

  function stop(result) {
    stopped = true;
    dropWidget();
    current = null;
    ahead = null;
    busy = false;
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

  async function crowdFinished(progress) {
    if (!crowdQuota || !progress || !(progress.done >= crowdQuota)) return false;
    try {
      const res = await fetch(urls.done, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!res.ok) return false;
      const data = await res.json();
      return Boolean(data && data.finished);
    } catch (err) {
      return false; // keep annotating; the next submit asks again
    }
  }

  function showUnit(unit) {
    current = { unit: unit, key: newKey(), shownAt: performance.now() };
    busy = false;
    renderPrompt(unit.prompt);
    if (unit.reference) {
      renderRich(ui.reference, unit.reference);
      ui.referencePanel.hidden = false;
    } else {
      ui.reference.replaceChildren();
      ui.referencePanel.hidden = true;
    }
    const type = unit.task && unit.task.type;
    const make = T.get(type);
    dropWidget();
    if (!make) {
      ui.widget.replaceChildren();
      ui.promptPanel.hidden = false;
      notice("error", "Unsupported task", "This task type (" + String(type) + ") has no browser widget yet.");
      return;
    }
    widget = make(unit, { submit: submit });
    ui.widget.replaceChildren(widget.root);
    ui.promptPanel.hidden = Boolean(widget.ownsPrompt);
    renderHelp(widget.shortcuts());
    ui.loading.hidden = true;
    ui.unit.hidden = false;
    // A conversation is shown from its end: the last turn is what the candidates answer.
    ui.prompt.scrollTop = Array.isArray(unit.prompt) ? ui.prompt.scrollHeight : 0;
    ui.unit.dataset.unitId = String(unit.unit_id);
    if (document.activeElement && document.activeElement !== document.body && ui.unit.contains(document.activeElement)) {
      document.activeElement.blur();
    }
    if (typeof widget.shown === "function") widget.shown();
    const top = ui.unit.getBoundingClientRect().top;
    if (top < 0) window.scrollBy(0, top - 8);
  }

  function submit() {
    if (busy || stopped || !current || !widget) return;
    const response = widget.response();
    if (!response) return;
    const sent = current;
    // Built once: a retry after a network failure sends the very same judgment and key, so
    // the server stores it exactly once.
    const body = JSON.stringify({
      response: response,
      idempotency_key: sent.key,
      duration_ms: Math.max(0, Math.round(performance.now() - sent.shownAt)),
    });
    outbox.push({ unit: sent.unit, body: body });
    app.dataset.pending = String(outbox.length);
    collapseInstructionsOnce();
    current = null;
    if (ahead && !crowdQuota) {
      // The next unit is here already: show it now, the judgment follows in the background.
      // (A crowd worker's quota may be met by this judgment: their page waits for the answer.)
      const following = ahead;
      ahead = null;
      showUnit(following);
    } else {
      waitForServer();
    }
    sendOutbox();
  }

  // Sends the outbox in order, one judgment at a time; each answer tells what comes next.
  async function sendOutbox() {
    if (sending) return;
    sending = true;
    try {
      while (outbox.length && !stopped) {
        const entry = outbox[0];
        const result = await sendOne(entry);
        outbox.shift();
        app.dataset.pending = String(outbox.length); // judgments not yet acknowledged (tests wait on it)
        if (result.ok && result.data) {
          clearNotice();
          const following = result.data.next || {};
          showProgress(following.progress);
          if (!outbox.length && (await crowdFinished(following.progress))) {
            finish();
            return;
          }
          if (following.detail && !following.unit) {
            // The study was paused or closed meanwhile: this judgment is stored, say why no more.
            stop({ status: 403, data: { detail: following.detail } });
            return;
          }
          const units = fresh([following.unit, following.ahead]);
          if (!current) {
            if (units[0]) {
              ahead = units[1] || null;
              showUnit(units[0]);
            } else if (!outbox.length) {
              await loadNext(); // nothing left, or nothing the server could tell: ask once
            }
          } else if (units[0]) {
            ahead = units[0];
          }
          continue;
        }
        const detail = errorText(result.data, "HTTP " + result.status);
        if (result.status === 400) {
          notice("error", "A judgment was not accepted", detail);
        } else if (result.status === 404 || result.status === 409) {
          notice("warn", "A judgment was not stored", detail);
        } else {
          stop(result);
          return;
        }
        if (!current && !outbox.length) await loadNext();
      }
    } finally {
      sending = false;
    }
  }

  // One judgment to the server, retried with the same key while the network or server fails.
  async function sendOne(entry) {
    const url = withAhead(urls.submit.replace(/\/0\/submit\/$/, "/" + encodeURIComponent(entry.unit.assignment_id) + "/submit/"));
    let attempt = 0;
    for (;;) {
      let result = null;
      try {
        result = await post(url, entry.body);
      } catch (err) {
        result = null;
      }
      if (!transient(result)) {
        clearNotice("net");
        return result;
      }
      attempt += 1;
      notice("warn", "Connection problem", "Your judgment is kept and will be sent as soon as the server answers (attempt " + (attempt + 1) + ")…", null, "net");
      await sleep(backoff(attempt));
    }
  }

  // Leaving with judgments not yet acknowledged: the browser asks first.
  window.addEventListener("beforeunload", function (event) {
    if (outbox.length) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // --- keyboard ---------------------------------------------------------------------------

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.isComposing) return;
    const target = event.target;
    const typing = target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT" || target.isContentEditable);
    if (event.key === "Escape") {
      if (!ui.help.hidden) toggleHelp(false);
      else if (typing) target.blur();
      else if (!widget || busy || !widget.key("Escape", event)) return;
      event.preventDefault();
      return;
    }
    if (typing) {
      // The rationale box: Enter submits (Shift+Enter is a new line).
      if (event.key === "Enter" && !event.shiftKey && target.hasAttribute("data-enter-submits") && widget && !busy) {
        event.preventDefault();
        widget.key("Enter", event);
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
    if (widget.key(event.key, event)) event.preventDefault();
  });

  loadNext();
})();
