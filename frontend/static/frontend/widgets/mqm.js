// The MQM widget: error spans over the translation (and the source), each with a category
// of the study's typology and a severity; "No error" as an explicit answer; optional ESA
// overall score (0-100); optional whole-segment categories (e.g. Non-translation).
//
// Marking: select text with the mouse; a picker opens next to it. Type to filter the
// categories, ↑ ↓ and Enter (or a click) to pick one, then a severity key: M minor, J major,
// C critical (when the study has it), N neutral. O writes a note first. Esc cancels.
// Marked errors are listed: Tab / Shift+Tab select one (or click it, in the list or in the
// text), E edits it, a severity key regrades it, Delete removes it. 0 answers "No error", W
// marks a whole-segment error, S goes to the overall score, Enter submits.
//
// The response is {"errors": [{start, end, side, category, severity, note}], "no_error",
// ["score"]}, offsets in code points of the text as stored (converted from UTF-16 here).
(function () {
  "use strict";

  const T = window.Trenchcoat;
  const el = T.dom.el;
  const kbd = T.dom.kbd;
  const spans = T.spans;

  const SEVERITY = {
    minor: { key: "m", label: "Minor", rank: 2 },
    major: { key: "j", label: "Major", rank: 3 },
    critical: { key: "c", label: "Critical", rank: 4 },
    neutral: { key: "n", label: "Neutral", rank: 1 },
  };
  const SEVERITY_ORDER = ["minor", "major", "critical", "neutral"];

  function categoriesOf(config) {
    if (Array.isArray(config.categories)) return config.categories.map(String);
    const out = [];
    Object.keys(config.typology || {}).forEach(function (top) {
      const subs = config.typology[top] || [];
      if (subs.length) subs.forEach(function (sub) { out.push(top + "/" + sub); });
      else out.push(top);
    });
    return out;
  }

  function matches(category, filter) {
    const name = category.toLowerCase();
    return filter.toLowerCase().split(/\s+/).filter(Boolean).every(function (word) { return name.indexOf(word) >= 0; });
  }

  function mqmWidget(unit, hooks) {
    const config = (unit.task && unit.task.config) || {};
    const candidates = unit.candidates || [];
    if (candidates.length !== 1) return T.dom.brokenWidget("An MQM unit shows exactly one candidate; this one has " + candidates.length + ".");
    const cand = candidates[0];
    const severities = SEVERITY_ORDER.filter(function (s) { return (config.severities || ["minor", "major", "neutral"]).indexOf(s) >= 0; });
    const categories = categoriesOf(config);
    const wholeCats = (config.whole_segment_categories || []).map(String).filter(function (c) { return categories.indexOf(c) >= 0; });
    const spanCats = categories.filter(function (c) { return wholeCats.indexOf(c) < 0; });
    const maxErrors = Number.isInteger(config.max_errors) ? config.max_errors : Infinity;
    // Source spans index the prompt as the server flattens it; a chat whose messages are
    // not plain text cannot be flattened the same way here, so its source is not marked.
    const flatPrompt = typeof unit.prompt === "string" || (Array.isArray(unit.prompt) && unit.prompt.every(function (m) {
      return m && typeof m.role === "string" && typeof m.content === "string";
    }));
    const allowSource = config.allow_source_spans !== false && flatPrompt;
    const allowOverlap = Boolean(config.allow_overlap);
    const esa = Boolean(config.esa_score);
    const sourceText = T.dom.promptText(unit.prompt);
    const targetText = cand.text == null ? "" : String(cand.text);

    // errors: {side, start, end (UTF-16), whole, category, severity, note}
    const state = { errors: [], noError: false, score: null, selected: -1, picker: null, message: "", attention: false };
    let busyNow = false;

    const root = el("div", "mqm");

    // --- the two texts ------------------------------------------------------------------
    const texts = el("div", "candidates mqm-texts n-" + (sourceText ? 2 : 1));
    const views = {};
    function textPane(side, title, hintText, text) {
      const article = el("article", "cand mqm-text");
      article.dataset.side = side;
      const head = el("div", "cand-head");
      head.appendChild(el("span", "name", title));
      if (hintText) head.appendChild(el("span", "small muted", hintText));
      const body = el("div", "cand-body");
      body.tabIndex = 0;
      body.setAttribute("aria-label", title);
      article.appendChild(head);
      article.appendChild(body);
      texts.appendChild(article);
      views[side] = new spans.SpanText(body, text);
      body.addEventListener("click", function (event) {
        const sel = window.getSelection();
        if (sel && !sel.isCollapsed) return;
        const mark = event.target.closest && event.target.closest(".mark");
        if (!mark || busyNow || state.picker) return;
        const index = mark.dataset.keys.split(" ").map(Number).filter(function (n) { return n >= 0; })[0];
        if (index !== undefined && !Number.isNaN(index)) select(index);
      });
      return body;
    }
    if (sourceText) {
      textPane("source", "Source", allowSource ? "select text to mark a source error" : "", sourceText);
    }
    textPane("target", "Translation", "select text to mark an error", targetText);
    root.appendChild(texts);

    // --- the list of marked errors -----------------------------------------------------
    const listPanel = el("section", "panel mqm-errors");
    const listHead = el("div", "panel-label");
    const listTitle = el("span", "", "Marked errors");
    const listCount = el("span", "count");
    listHead.appendChild(listTitle);
    listHead.appendChild(listCount);
    const list = el("ol", "mqm-error-list");
    listPanel.appendChild(listHead);
    listPanel.appendChild(list);
    root.appendChild(listPanel);

    // --- the bar: verdict, overall score, submit ------------------------------------------
    const bar = el("div", "choicebar");
    const area = el("div", "choice-area");
    const rows = el("div", "choice-rows");
    area.appendChild(rows);
    bar.appendChild(area);

    const verdictRow = el("div", "choice-row mqm-verdict");
    verdictRow.appendChild(el("div", "row-label", "Verdict"));
    const verdictButtons = el("div", "choice-buttons");
    const noErrorButton = T.dom.button("choice no-error", "No error", ["0"], function () { if (!busyNow) toggleNoError(); });
    verdictButtons.appendChild(noErrorButton);
    if (wholeCats.length > 1) {
      const label = el("span", "small muted whole-key", "Whole segment ");
      label.appendChild(kbd("W"));
      verdictButtons.appendChild(label);
    }
    const wholeButtons = wholeCats.map(function (category) {
      const b = T.dom.button("choice whole", category, wholeCats.length === 1 ? ["W"] : [], function () {
        if (!busyNow) openPicker({ mode: "new", whole: true, side: "target", start: 0, end: 0, category: category, step: "severity" });
      });
      b.title = "Whole-segment error: no span to select";
      verdictButtons.appendChild(b);
      return b;
    });
    verdictRow.appendChild(verdictButtons);
    rows.appendChild(verdictRow);

    let scoreRange = null;
    let scoreInput = null;
    if (esa) {
      const scoreRow = el("div", "choice-row mqm-score");
      const label = el("label", "row-label", "Overall score");
      scoreRow.appendChild(label);
      const wrap = el("div", "choice-buttons slider");
      scoreRange = el("input", "slider-range unset");
      scoreRange.type = "range";
      scoreRange.min = "0";
      scoreRange.max = "100";
      scoreRange.step = "1";
      scoreRange.value = "50";
      scoreRange.tabIndex = -1;
      scoreRange.setAttribute("aria-label", "Overall score, 0 to 100");
      const track = el("div", "slider-track");
      track.appendChild(scoreRange);
      const ticks = el("div", "slider-ticks");
      [["0", "no meaning kept"], ["33", "some meaning"], ["66", "most meaning"], ["100", "perfect"]].forEach(function (t) {
        const tick = el("span", "tick " + (t[0] === "0" ? "at-lo" : t[0] === "100" ? "at-hi" : "at-mid"), t[1]);
        tick.style.left = t[0] + "%";
        ticks.appendChild(tick);
      });
      track.appendChild(ticks);
      wrap.appendChild(el("span", "slider-end", "0"));
      wrap.appendChild(track);
      wrap.appendChild(el("span", "slider-end", "100"));
      scoreInput = el("input", "slider-number");
      scoreInput.type = "text";
      scoreInput.inputMode = "numeric";
      scoreInput.autocomplete = "off";
      scoreInput.placeholder = "—";
      scoreInput.id = "esa-score-" + unit.assignment_id;
      scoreInput.setAttribute("data-enter-submits", "");
      label.htmlFor = scoreInput.id;
      wrap.appendChild(scoreInput);
      const hint = el("span", "small muted");
      hint.appendChild(kbd("S"));
      wrap.appendChild(hint);
      scoreRow.appendChild(wrap);
      rows.appendChild(scoreRow);
      scoreRange.addEventListener("input", function () {
        if (busyNow) return;
        state.score = Number(scoreRange.value);
        scoreInput.value = scoreRange.value;
        state.message = "";
        update();
      });
      scoreInput.addEventListener("input", function () {
        const text = scoreInput.value.trim();
        if (/^\d{1,3}$/.test(text) && Number(text) <= 100) {
          state.score = Number(text);
          state.message = "";
        } else {
          state.score = null;
          state.message = text ? "The overall score is a whole number from 0 to 100" : "";
        }
        update();
      });
      scoreInput.addEventListener("focus", function () { scoreInput.select(); });
    }

    const submit = T.dom.submitBox(trySubmit);
    bar.appendChild(submit.box);
    root.appendChild(bar);

    // --- the picker: category, then severity (and a note) ----------------------------------
    const picker = el("div", "mqm-picker");
    picker.hidden = true;
    picker.setAttribute("role", "dialog");
    picker.setAttribute("aria-label", "Mark an error");
    const pickerTitle = el("div", "picker-title");
    const pickerQuote = el("div", "picker-quote");
    const catStep = el("div", "picker-step");
    const filter = el("input", "picker-filter");
    filter.type = "text";
    filter.autocomplete = "off";
    filter.spellcheck = false;
    filter.placeholder = "Type to filter categories…";
    filter.setAttribute("aria-label", "Filter categories");
    const options = el("ul", "picker-list");
    options.setAttribute("role", "listbox");
    const catKeys = el("div", "picker-keys small muted");
    [["↑", "↓"], " choose · ", ["Enter"], " pick · ", ["Esc"], " cancel"].forEach(function (part) {
      if (Array.isArray(part)) part.forEach(function (k) { catKeys.appendChild(kbd(k)); });
      else catKeys.appendChild(document.createTextNode(part));
    });
    catStep.appendChild(filter);
    catStep.appendChild(options);
    catStep.appendChild(catKeys);
    const sevStep = el("div", "picker-step");
    const chosen = el("div", "picker-chosen");
    const sevButtons = el("div", "severity-buttons");
    const severityButtons = severities.map(function (s) {
      const b = T.dom.button("choice severity sev-" + s, SEVERITY[s].label, [SEVERITY[s].key.toUpperCase()], function () {
        if (!busyNow) commit(s);
      });
      b.dataset.severity = s;
      sevButtons.appendChild(b);
      return b;
    });
    const noteRow = el("label", "picker-note");
    const noteLabel = el("span", "small muted", "Note (optional) ");
    noteLabel.appendChild(kbd("O"));
    const note = el("input", "picker-note-input");
    note.type = "text";
    note.maxLength = 1000;
    note.autocomplete = "off";
    noteRow.appendChild(noteLabel);
    noteRow.appendChild(note);
    const sevFoot = el("div", "picker-foot");
    const removeButton = T.dom.button("small danger", "Remove", ["Del"], function () {
      if (state.picker && state.picker.mode === "edit") {
        const index = state.picker.index;
        closePicker();
        remove(index);
      }
    });
    const cancelButton = T.dom.button("small", "Cancel", ["Esc"], function () { closePicker(); });
    sevFoot.appendChild(removeButton);
    sevFoot.appendChild(cancelButton);
    sevStep.appendChild(chosen);
    sevStep.appendChild(sevButtons);
    sevStep.appendChild(noteRow);
    sevStep.appendChild(sevFoot);
    picker.appendChild(pickerTitle);
    picker.appendChild(pickerQuote);
    picker.appendChild(catStep);
    picker.appendChild(sevStep);
    root.appendChild(picker);

    function pickerCategories() {
      const p = state.picker;
      let pool = p.whole ? wholeCats : spanCats;
      if (p.side === "source") {
        // A source error first: the category most spans in the source take.
        pool = pool.filter(function (c) { return /^source/i.test(c); }).concat(pool.filter(function (c) { return !/^source/i.test(c); }));
      }
      return pool.filter(function (c) { return matches(c, p.filter); });
    }

    function renderPicker() {
      const p = state.picker;
      picker.hidden = !p;
      if (!p) return;
      const where = p.whole ? "Whole segment" : p.side === "source" ? "Error in the source" : "Error in the translation";
      pickerTitle.textContent = (p.mode === "edit" ? "Edit: " : "") + where;
      pickerQuote.replaceChildren();
      if (!p.whole) pickerQuote.textContent = "“" + spans.quote(views[p.side].slice(p.start, p.end), 120) + "”";
      pickerQuote.hidden = p.whole;
      catStep.hidden = p.step !== "category";
      sevStep.hidden = p.step !== "severity";
      if (p.step === "category") {
        const pool = pickerCategories();
        if (p.active >= pool.length) p.active = Math.max(0, pool.length - 1);
        options.replaceChildren();
        pool.forEach(function (category, i) {
          const li = el("li", "picker-option" + (i === p.active ? " active" : "") + (category === p.category ? " current" : ""));
          li.setAttribute("role", "option");
          li.setAttribute("aria-selected", i === p.active ? "true" : "false");
          li.dataset.category = category;
          const slash = category.indexOf("/");
          if (slash > 0) {
            li.appendChild(el("span", "top", category.slice(0, slash) + " / "));
            li.appendChild(el("span", "sub", category.slice(slash + 1)));
          } else {
            li.appendChild(el("span", "sub", category));
          }
          li.addEventListener("mousedown", function (event) { event.preventDefault(); });
          li.addEventListener("click", function () { chooseCategory(category); });
          options.appendChild(li);
        });
        if (!pool.length) options.appendChild(el("li", "picker-empty muted", "No category matches “" + p.filter + "”"));
        const active = options.querySelector(".active");
        if (active) active.scrollIntoView({ block: "nearest" });
      } else {
        chosen.replaceChildren();
        chosen.appendChild(el("span", "muted", "Category: "));
        chosen.appendChild(el("strong", "", p.category));
        const change = el("button", "linklike small", "change");
        change.type = "button";
        change.addEventListener("click", function () { backToCategory(); });
        chosen.appendChild(document.createTextNode(" "));
        chosen.appendChild(change);
        chosen.appendChild(document.createTextNode(" "));
        chosen.appendChild(kbd("Backspace"));
        severityButtons.forEach(function (b) {
          const on = b.dataset.severity === p.severity;
          b.classList.toggle("selected", on);
          b.setAttribute("aria-pressed", on ? "true" : "false");
          b.disabled = busyNow;
        });
        removeButton.hidden = p.mode !== "edit";
      }
    }

    function placePicker() {
      const p = state.picker;
      if (!p) return;
      let anchor = null;
      if (p.whole) anchor = wholeButtons[Math.max(0, wholeCats.indexOf(p.category))] || noErrorButton;
      else {
        const marks = views[p.side].markElements(p.mode === "edit" ? p.index : "pending");
        anchor = marks.length ? marks[marks.length - 1] : views[p.side].container;
      }
      const rect = anchor.getBoundingClientRect();
      const width = picker.offsetWidth;
      const height = picker.offsetHeight;
      const vw = document.documentElement.clientWidth;
      const vh = document.documentElement.clientHeight;
      let left = Math.min(Math.max(8, rect.left), vw - width - 8);
      let top = rect.bottom + 6;
      if (top + height > vh - 8) top = rect.top - height - 6;
      if (top < 8) top = Math.max(8, vh - height - 8);
      picker.style.left = Math.max(8, left) + "px";
      picker.style.top = top + "px";
    }

    function openPicker(p) {
      if (busyNow) return;
      if (p.mode === "new" && state.errors.length >= maxErrors) {
        say("At most " + maxErrors + " errors per segment: remove one first (select it, then Delete)");
        return;
      }
      state.picker = Object.assign({ filter: "", active: 0, severity: null, note: "", index: -1 }, p);
      if (!state.picker.step) state.picker.step = "category";
      filter.value = "";
      note.value = state.picker.note || "";
      state.message = "";
      update();
      placePicker();
      if (state.picker.step === "category") {
        const pool = pickerCategories();
        const at = pool.indexOf(state.picker.category);
        if (at >= 0) state.picker.active = at;
        renderPicker();
        filter.focus();
      } else if (document.activeElement && root.contains(document.activeElement)) {
        document.activeElement.blur();
      }
    }

    function closePicker() {
      state.picker = null;
      if (document.activeElement && picker.contains(document.activeElement)) document.activeElement.blur();
      update();
    }

    function chooseCategory(category) {
      const p = state.picker;
      if (!p) return;
      p.category = category;
      p.step = "severity";
      if (document.activeElement === filter) filter.blur();
      update();
      placePicker();
    }

    function backToCategory() {
      const p = state.picker;
      if (!p) return;
      p.step = "category";
      p.filter = "";
      filter.value = "";
      const at = pickerCategories().indexOf(p.category);
      p.active = at >= 0 ? at : 0;
      update();
      placePicker();
      filter.focus();
    }

    function commit(severity) {
      const p = state.picker;
      if (!p || !p.category) return;
      const error = {
        side: p.side,
        start: p.start,
        end: p.end,
        whole: Boolean(p.whole),
        category: p.category,
        severity: severity,
        note: note.value.trim(),
      };
      if (p.mode === "edit") {
        state.errors[p.index] = error;
        state.selected = p.index;
      } else {
        state.errors.push(error);
        state.selected = -1;
      }
      state.noError = false;
      state.attention = false;
      closePicker();
    }

    filter.addEventListener("input", function () {
      if (!state.picker) return;
      state.picker.filter = filter.value;
      state.picker.active = 0;
      renderPicker();
    });
    filter.addEventListener("keydown", function (event) {
      const p = state.picker;
      if (!p || event.isComposing) return;
      const pool = pickerCategories();
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (pool.length) p.active = (p.active + (event.key === "ArrowDown" ? 1 : -1) + pool.length) % pool.length;
        renderPicker();
      } else if (event.key === "Enter") {
        event.preventDefault();
        if (pool.length) chooseCategory(pool[p.active]);
      } else if (event.key === "Escape") {
        event.preventDefault();
        closePicker();
      }
    });
    note.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.isComposing) {
        event.preventDefault();
        const p = state.picker;
        if (p && p.severity) commit(p.severity);
        else note.blur();
      }
    });

    // --- marking with the mouse --------------------------------------------------------------
    function onMouseUp(event) {
      if (busyNow || (event && event.button !== 0)) return;
      if (event && picker.contains(event.target)) return;
      const sides = Object.keys(views);
      let found = null;
      for (let i = 0; i < sides.length; i++) {
        const range = views[sides[i]].selection();
        if (range) {
          if (found) {
            spans.clearSelection();
            say("Select text within one side: the source or the translation");
            return;
          }
          found = { side: sides[i], start: range.start, end: range.end };
        }
      }
      if (!found) return;
      spans.clearSelection();
      if (found.side === "source" && !allowSource) {
        say("This study does not take errors in the source; select in the translation");
        return;
      }
      if (!allowOverlap) {
        for (let i = 0; i < state.errors.length; i++) {
          const e = state.errors[i];
          if (e.whole || e.side !== found.side) continue;
          if (state.picker && state.picker.mode === "edit" && state.picker.index === i) continue;
          if (e.start < found.end && found.start < e.end) {
            say("That overlaps error " + (i + 1) + ": spans may not overlap in this study");
            return;
          }
        }
      }
      if (state.picker && state.picker.mode === "edit" && !state.picker.whole && state.picker.side === found.side) {
        // Editing an error: a new selection moves its span.
        state.picker.start = found.start;
        state.picker.end = found.end;
        update();
        placePicker();
        return;
      }
      openPicker({ mode: "new", whole: false, side: found.side, start: found.start, end: found.end });
    }
    document.addEventListener("mouseup", onMouseUp);

    // --- actions ---------------------------------------------------------------------------
    function say(message) {
      state.message = message;
      update();
    }

    function select(index) {
      state.selected = index >= 0 && index < state.errors.length ? index : -1;
      state.message = "";
      update();
      if (state.selected >= 0) {
        const row = list.children[state.selected];
        if (row && row.scrollIntoView) row.scrollIntoView({ block: "nearest" });
      }
    }

    function remove(index) {
      if (index < 0 || index >= state.errors.length) return;
      state.errors.splice(index, 1);
      state.selected = state.errors.length ? Math.min(index, state.errors.length - 1) : -1;
      state.message = "";
      update();
    }

    function edit(index) {
      const e = state.errors[index];
      if (!e) return;
      openPicker({ mode: "edit", index: index, whole: e.whole, side: e.side, start: e.start, end: e.end, category: e.category, severity: e.severity, note: e.note, step: "severity" });
    }

    function regrade(index, severity) {
      const e = state.errors[index];
      if (!e) return;
      e.severity = severity;
      update();
    }

    function toggleNoError() {
      if (state.errors.length) {
        say("Errors are marked: remove them first (select one, then Delete) to answer “No error”");
        return;
      }
      state.noError = !state.noError;
      state.attention = false;
      state.message = "";
      update();
    }

    function complete() {
      return !state.picker && (state.errors.length > 0 || state.noError) && (!esa || state.score !== null);
    }

    function missingText() {
      if (state.picker) return "Finish or cancel the error being marked (Esc)";
      if (!state.errors.length && !state.noError) return "Select errors with the mouse, or press 0 for “No error”";
      if (esa && state.score === null) return "Give an overall score (S)";
      return "";
    }

    // --- rendering --------------------------------------------------------------------------
    function marksFor(side) {
      const out = [];
      state.errors.forEach(function (e, i) {
        if (e.whole || e.side !== side) return;
        const editing = state.picker && state.picker.mode === "edit" && state.picker.index === i;
        const start = editing ? state.picker.start : e.start;
        const end = editing ? state.picker.end : e.end;
        const picked = i === state.selected || editing;
        out.push({
          start: start,
          end: end,
          key: i,
          cls: "sev-" + e.severity + (picked ? " selected" : ""),
          rank: SEVERITY[e.severity].rank + (picked ? 10 : 0),
          title: (i + 1) + ". " + SEVERITY[e.severity].label + " · " + e.category + (e.note ? " · " + e.note : ""),
        });
      });
      const p = state.picker;
      if (p && p.mode === "new" && !p.whole && p.side === side) {
        out.push({ start: p.start, end: p.end, key: "pending", cls: "pending", rank: 20, title: "being marked" });
      }
      return out;
    }

    function renderList() {
      list.replaceChildren();
      state.errors.forEach(function (e, i) {
        const li = el("li", "mqm-error" + (i === state.selected ? " selected" : ""));
        li.dataset.index = String(i);
        li.appendChild(el("span", "num", String(i + 1)));
        li.appendChild(el("span", "sev-badge sev-" + e.severity, SEVERITY[e.severity].label));
        li.appendChild(el("span", "cat", e.category));
        if (e.whole) li.appendChild(el("span", "where", "whole segment"));
        else {
          if (e.side === "source") li.appendChild(el("span", "where", "source"));
          li.appendChild(el("span", "quote", "“" + spans.quote(views[e.side].slice(e.start, e.end), 60) + "”"));
        }
        if (e.note) li.appendChild(el("span", "note muted", e.note));
        const actions = el("span", "error-actions");
        actions.appendChild(T.dom.button("small", "Edit", i === state.selected ? ["E"] : [], function (event) {
          event.stopPropagation();
          if (!busyNow) edit(i);
        }));
        actions.appendChild(T.dom.button("small danger", "Remove", i === state.selected ? ["Del"] : [], function (event) {
          event.stopPropagation();
          if (!busyNow) remove(i);
        }));
        li.appendChild(actions);
        li.addEventListener("click", function () { if (!busyNow && !state.picker) select(i); });
        list.appendChild(li);
      });
      if (!state.errors.length) {
        const empty = el("li", "mqm-empty muted");
        if (state.noError) empty.textContent = "No error: this translation is marked as correct.";
        else {
          empty.appendChild(document.createTextNode("None yet. Select text with the mouse to mark an error, or press "));
          empty.appendChild(kbd("0"));
          empty.appendChild(document.createTextNode(" if there is none."));
        }
        list.appendChild(empty);
      }
      listCount.textContent = maxErrors === Infinity ? String(state.errors.length) : state.errors.length + " / " + maxErrors;
    }

    function update() {
      Object.keys(views).forEach(function (side) { views[side].render(marksFor(side)); });
      renderList();
      renderPicker();
      noErrorButton.classList.toggle("selected", state.noError);
      noErrorButton.setAttribute("aria-pressed", state.noError ? "true" : "false");
      noErrorButton.disabled = busyNow;
      wholeButtons.forEach(function (b) { b.disabled = busyNow; });
      texts.classList.toggle("clean", state.noError);
      if (scoreRange) {
        scoreRange.disabled = busyNow;
        scoreRange.classList.toggle("unset", state.score === null);
        if (state.score !== null) scoreRange.value = String(state.score);
        if (document.activeElement !== scoreInput) scoreInput.value = state.score === null ? "" : String(state.score);
        scoreInput.readOnly = busyNow;
      }
      const ready = complete();
      submit.button.disabled = !ready || busyNow;
      submit.hint.textContent = busyNow ? "Sending…" : state.message ? state.message : ready ? "Ready: press Enter" : missingText();
      submit.hint.classList.toggle("attention", Boolean(state.message) || (state.attention && !ready));
    }

    function trySubmit() {
      if (busyNow) return;
      if (!complete()) {
        state.attention = true;
        state.message = "";
        update();
        return;
      }
      hooks.submit();
    }

    function scrollTexts(amount) {
      texts.querySelectorAll(".cand-body").forEach(function (body) {
        const step = amount === "page" ? body.clientHeight * 0.85 : amount === "-page" ? -body.clientHeight * 0.85 : amount;
        body.scrollBy({ top: step });
      });
    }

    function severityFor(name) {
      const lower = name.length === 1 ? name.toLowerCase() : "";
      for (let i = 0; i < severities.length; i++) if (SEVERITY[severities[i]].key === lower) return severities[i];
      return null;
    }

    function pickerKey(name) {
      const p = state.picker;
      if (name === "Escape") {
        closePicker();
        return true;
      }
      if (p.step === "category") {
        filter.focus(); // keys belong to the filter box
        return true;
      }
      const severity = severityFor(name);
      if (severity) {
        commit(severity);
        return true;
      }
      if (name === "Backspace") {
        backToCategory();
        return true;
      }
      if (name === "o" || name === "O") {
        note.focus();
        return true;
      }
      if (name === "Enter") {
        if (p.severity) commit(p.severity);
        else say("Pick a severity: " + severities.map(function (s) { return SEVERITY[s].key.toUpperCase() + " " + SEVERITY[s].label.toLowerCase(); }).join(", "));
        return true;
      }
      if ((name === "Delete") && p.mode === "edit") {
        const index = p.index;
        closePicker();
        remove(index);
        return true;
      }
      return ["ArrowUp", "ArrowDown", "PageUp", "PageDown"].indexOf(name) < 0;
    }

    function key(name, event) {
      if (state.picker) return pickerKey(name);
      switch (name) {
        case "Enter":
          trySubmit();
          return true;
        case "0":
          toggleNoError();
          return true;
        case "Tab":
          if (!state.errors.length) return false;
          {
            const n = state.errors.length;
            const back = event && event.shiftKey;
            const from = state.selected < 0 ? (back ? 0 : -1) : state.selected;
            select((from + (back ? -1 : 1) + n) % n);
          }
          return true;
        case "Escape":
          if (state.selected >= 0 || state.message) {
            state.selected = -1;
            state.message = "";
            update();
            return true;
          }
          return false;
        case "Delete":
        case "Backspace":
          if (state.selected >= 0) {
            remove(state.selected);
            return true;
          }
          return false;
        case "ArrowUp":
          scrollTexts(-80);
          return true;
        case "ArrowDown":
          scrollTexts(80);
          return true;
        case "PageUp":
          scrollTexts("-page");
          return true;
        case "PageDown":
          scrollTexts("page");
          return true;
      }
      const lower = name.length === 1 ? name.toLowerCase() : name;
      if (lower === "e" && state.selected >= 0) {
        edit(state.selected);
        return true;
      }
      if (lower === "w" && wholeCats.length) {
        if (wholeCats.length === 1) openPicker({ mode: "new", whole: true, side: "target", start: 0, end: 0, category: wholeCats[0], step: "severity" });
        else openPicker({ mode: "new", whole: true, side: "target", start: 0, end: 0, step: "category" });
        return true;
      }
      if (lower === "s" && scoreInput) {
        scoreInput.focus();
        return true;
      }
      const severity = severityFor(name);
      if (severity && state.selected >= 0) {
        regrade(state.selected, severity);
        return true;
      }
      return false;
    }

    function response() {
      if (!complete()) return null;
      const errors = state.errors.map(function (e) {
        if (e.whole) return { start: 0, end: 0, side: "target", category: e.category, severity: e.severity, note: e.note };
        const text = views[e.side].text;
        return {
          start: spans.codePoints(text, e.start),
          end: spans.codePoints(text, e.end),
          side: e.side,
          category: e.category,
          severity: e.severity,
          note: e.note,
        };
      });
      const out = { errors: errors, no_error: errors.length === 0 && state.noError };
      if (esa) out.score = state.score;
      return out;
    }

    function setBusy(flag) {
      busyNow = flag;
      if (flag && state.picker) closePicker();
      update();
    }

    function shortcuts() {
      const sevKeys = severities.map(function (s) { return SEVERITY[s].key.toUpperCase(); });
      const list = [
        [["mouse"], "Select text in the translation" + (sourceText && allowSource ? " (or the source)" : "") + " to mark an error"],
        [["↑", "↓", "Enter"], "In the picker: type to filter the categories, choose one"],
        [sevKeys, severities.map(function (s) { return SEVERITY[s].label; }).join(" / ") + " (then the error is marked)"],
        [["O"], "In the picker: write a note first"],
        [["Tab"], "Select the next marked error (Shift+Tab: the previous)"],
        [["E"], "Edit the selected error"],
        [["Del"], "Remove the selected error"],
        [["0"], "No error in this translation"],
      ];
      if (wholeCats.length) list.push([["W"], "Whole-segment error: " + wholeCats.join(", ")]);
      if (esa) list.push([["S"], "Type the overall score (0–100)"]);
      list.push([["Esc"], "Cancel the error being marked"]);
      list.push([["Enter"], "Submit"]);
      return list;
    }

    function destroy() {
      document.removeEventListener("mouseup", onMouseUp);
    }

    update();
    return {
      root: root,
      key: key,
      response: response,
      setBusy: setBusy,
      shortcuts: shortcuts,
      destroy: destroy,
      ownsPrompt: true, // the source is shown (and marked) here
    };
  }

  T.register("mqm", mqmWidget);
})();
