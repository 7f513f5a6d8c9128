// The rubric widget: one candidate and a checklist of weighted criteria (the study's, or
// the item's own: unit.task.criteria), one row each.
//
// Keys act on the current criterion and move on: Y / P / N for yes / partial / no, digits
// for a small scale 0..k (k <= 9; a wider scale takes a typed number confirmed with Enter).
// A criterion may take (or require) an evidence span: select it in the response with the
// mouse, before or after answering; it goes to the current criterion. Delete removes it.
// Tab / Shift+Tab and Backspace move between criteria; Enter submits.
//
// The response is {"criteria": {"<id>": {"value": "yes"|"partial"|"no"|int,
// ["evidence": {"start", "end"}]}}}, offsets in code points of the candidate text.
(function () {
  "use strict";

  const T = window.Trenchcoat;
  const el = T.dom.el;
  const kbd = T.dom.kbd;
  const spans = T.spans;

  const YNP = [
    { value: "yes", label: "Yes", key: "y" },
    { value: "partial", label: "Partial", key: "p" },
    { value: "no", label: "No", key: "n" },
  ];
  const MAX_BUTTON_SCALE = 9;

  function rubricWidget(unit, hooks) {
    const config = (unit.task && unit.task.config) || {};
    const candidates = unit.candidates || [];
    if (candidates.length !== 1) return T.dom.brokenWidget("A rubric unit shows exactly one candidate; this one has " + candidates.length + ".");
    const raw = Array.isArray(unit.task && unit.task.criteria) ? unit.task.criteria : Array.isArray(config.criteria) ? config.criteria : [];
    if (!raw.length) return T.dom.brokenWidget("This rubric unit has no criteria.");
    const cand = candidates[0];
    const text = cand.text == null ? "" : String(cand.text);

    const rows = raw.map(function (c, i) {
      const ynp = c.scale === "ynp" || c.scale === undefined;
      const k = ynp ? 0 : Number(c.scale[1]);
      return {
        index: i,
        id: String(c.id),
        text: String(c.text),
        weight: Number(c.weight === undefined ? 1 : c.weight),
        ynp: ynp,
        k: k,
        typedScale: !ynp && k > MAX_BUTTON_SCALE,
        evidenceMode: c.evidence === "required" || c.evidence === "optional" ? c.evidence : "none",
        value: null,
        evidence: null, // {start, end} in UTF-16
        typed: "",
      };
    });
    const anyEvidence = rows.some(function (r) { return r.evidenceMode !== "none"; });
    const state = { row: 0, message: "", attention: false };
    let busyNow = false;

    const root = el("div", "rubric");
    const grid = el("div", "rubric-grid");
    const article = el("article", "cand");
    article.dataset.candidateId = String(cand.id);
    const head = el("div", "cand-head");
    head.appendChild(el("span", "name", "Response"));
    if (anyEvidence) head.appendChild(el("span", "small muted", "select text as evidence for the current criterion"));
    const body = el("div", "cand-body");
    body.tabIndex = 0;
    body.setAttribute("aria-label", "Response");
    article.appendChild(head);
    article.appendChild(body);
    const view = new spans.SpanText(body, text);
    body.addEventListener("click", function (event) {
      const sel = window.getSelection();
      if (sel && !sel.isCollapsed) return;
      const mark = event.target.closest && event.target.closest(".mark");
      if (!mark || busyNow) return;
      const index = Number(mark.dataset.keys.split(" ")[0]);
      if (!Number.isNaN(index)) goTo(index);
    });
    grid.appendChild(article);

    const panel = el("section", "panel rubric-criteria");
    const panelHead = el("div", "panel-label");
    panelHead.appendChild(el("span", "", "Criteria"));
    const count = el("span", "count");
    panelHead.appendChild(count);
    const list = el("ol", "crit-list");
    panel.appendChild(panelHead);
    panel.appendChild(list);
    grid.appendChild(panel);
    root.appendChild(grid);

    const bar = el("div", "choicebar");
    const area = el("div", "choice-area rubric-keys small muted");
    const legend = [];
    if (rows.some(function (r) { return r.ynp; })) legend.push([["Y", "P", "N"], " yes / partial / no"]);
    if (rows.some(function (r) { return !r.ynp; })) legend.push([["0", "…", "9"], " a point of the scale"]);
    legend.push([["Tab"], " next criterion"]);
    if (anyEvidence) legend.push([["Del"], " remove the evidence"]);
    legend.forEach(function (part, i) {
      if (i) area.appendChild(document.createTextNode(" · "));
      part[0].forEach(function (k) { area.appendChild(kbd(k)); });
      area.appendChild(document.createTextNode(part[1]));
    });
    bar.appendChild(area);
    const submit = T.dom.submitBox(trySubmit);
    bar.appendChild(submit.box);
    root.appendChild(bar);

    const rowEls = rows.map(function (row) {
      const li = el("li", "crit-row");
      li.dataset.criterion = row.id;
      const main = el("div", "crit-main");
      const title = el("div", "crit-text");
      title.appendChild(el("span", "crit-num", String(row.index + 1) + "."));
      title.appendChild(document.createTextNode(" "));
      title.appendChild(el("span", "", row.text));
      // Weights other than 1 and evidence modes ride after the text, as small tags.
      if (row.weight !== 1) {
        const tag = el("span", "tag", "×" + row.weight);
        tag.title = "weight " + row.weight;
        title.appendChild(tag);
      }
      if (row.evidenceMode !== "none") title.appendChild(el("span", "tag" + (row.evidenceMode === "required" ? " required" : ""), "evidence " + row.evidenceMode));
      main.appendChild(title);
      li.appendChild(main);
      const controls = el("div", "choice-buttons crit-controls");
      const out = { li: li, controls: controls, buttons: [], evidence: null, input: null };
      if (row.ynp) {
        YNP.forEach(function (option) {
          const b = T.dom.button("choice ynp ynp-" + option.value, option.label, [option.key.toUpperCase()], function () {
            if (!busyNow) answer(row, option.value);
          });
          b.dataset.value = option.value;
          controls.appendChild(b);
          out.buttons.push(b);
        });
      } else if (!row.typedScale) {
        for (let v = 0; v <= row.k; v++) {
          const b = el("button", "btn choice point");
          b.type = "button";
          b.dataset.value = String(v);
          b.appendChild(kbd(String(v)));
          b.title = v + " of " + row.k;
          const value = v;
          b.addEventListener("click", function () { if (!busyNow) answer(row, value); });
          controls.appendChild(b);
          out.buttons.push(b);
        }
      } else {
        const input = el("input", "slider-number");
        input.type = "text";
        input.inputMode = "numeric";
        input.autocomplete = "off";
        input.placeholder = "0–" + row.k;
        input.setAttribute("aria-label", row.text + " (0–" + row.k + ")");
        input.addEventListener("keydown", function (event) {
          if (event.key !== "Enter") return;
          event.preventDefault();
          const v = parseTyped(row, input.value.trim());
          if (v === null) return say("Type a whole number from 0 to " + row.k);
          input.blur();
          answer(row, v);
        });
        input.addEventListener("focus", function () { goTo(row.index); });
        controls.appendChild(input);
        controls.appendChild(el("span", "small muted", "of " + row.k));
        out.input = input;
      }
      li.appendChild(controls);
      if (row.evidenceMode !== "none") {
        out.evidence = el("div", "crit-evidence small");
        li.appendChild(out.evidence);
      }
      li.addEventListener("mousedown", function (event) {
        if (busyNow || state.row === row.index) return;
        if (event.target.closest && event.target.closest("button, input")) {
          state.row = row.index;
          return; // the click itself answers; update() follows
        }
        goTo(row.index);
      });
      list.appendChild(li);
      return out;
    });

    function parseTyped(row, typed) {
      if (!/^\d{1,3}$/.test(typed)) return null;
      const v = Number(typed);
      return v <= row.k ? v : null;
    }

    function rowDone(row) {
      return row.value !== null && (row.evidenceMode !== "required" || row.evidence !== null);
    }

    function firstMissing(from) {
      for (let i = from || 0; i < rows.length; i++) if (!rowDone(rows[i])) return i;
      if (from) for (let i = 0; i < from; i++) if (!rowDone(rows[i])) return i;
      return -1;
    }

    function complete() {
      return firstMissing() < 0;
    }

    function say(message) {
      state.message = message;
      update();
    }

    function goTo(index) {
      if (index < 0 || index >= rows.length) return;
      state.row = index;
      state.message = "";
      update();
      const li = rowEls[index].li;
      if (li.scrollIntoView) li.scrollIntoView({ block: "nearest" });
    }

    // After an answer: wait here for required evidence, else on to the next open row.
    function moveOn(row) {
      if (row.evidenceMode === "required" && row.evidence === null) {
        state.message = "Select the evidence for criterion " + (row.index + 1) + " in the response";
        update();
        return;
      }
      const next = firstMissing(row.index + 1);
      if (next >= 0) goTo(next);
      else update();
    }

    function answer(row, value) {
      row.value = value;
      row.typed = "";
      state.row = row.index;
      state.message = "";
      state.attention = false;
      moveOn(row);
    }

    function onMouseUp(event) {
      if (busyNow || (event && event.button !== 0)) return;
      const range = view.selection();
      if (!range) return;
      spans.clearSelection();
      const row = rows[state.row];
      if (row.evidenceMode === "none") {
        say("Criterion " + (row.index + 1) + " takes no evidence; click one that does first");
        return;
      }
      row.evidence = range;
      state.message = "";
      if (row.value !== null) moveOn(row);
      else update();
    }
    document.addEventListener("mouseup", onMouseUp);

    function update() {
      const marks = [];
      rows.forEach(function (row) {
        if (!row.evidence) return;
        const current = row.index === state.row;
        marks.push({
          start: row.evidence.start,
          end: row.evidence.end,
          key: row.index,
          cls: "evidence" + (current ? " selected" : ""),
          rank: current ? 10 : 1,
          title: "evidence for criterion " + (row.index + 1),
        });
      });
      view.render(marks);
      rows.forEach(function (row, i) {
        const out = rowEls[i];
        out.li.classList.toggle("current", i === state.row);
        out.li.classList.toggle("answered", rowDone(row));
        out.buttons.forEach(function (b) {
          const on = row.value !== null && b.dataset.value === String(row.value);
          b.classList.toggle("selected", on);
          b.setAttribute("aria-pressed", on ? "true" : "false");
          b.disabled = busyNow;
        });
        if (out.input) {
          if (document.activeElement !== out.input) out.input.value = row.typed !== "" ? row.typed : row.value === null ? "" : String(row.value);
          out.input.readOnly = busyNow;
          out.input.classList.toggle("draft", row.typed !== "");
        }
        if (out.evidence) {
          out.evidence.replaceChildren();
          if (row.evidence) {
            out.evidence.appendChild(el("span", "muted", "Evidence: "));
            out.evidence.appendChild(el("span", "quote", "“" + spans.quote(view.slice(row.evidence.start, row.evidence.end), 90) + "”"));
            const clear = T.dom.button("small", "Remove", i === state.row ? ["Del"] : [], function (event) {
              event.stopPropagation();
              if (!busyNow) { row.evidence = null; update(); }
            });
            out.evidence.appendChild(clear);
          } else {
            out.evidence.appendChild(el("span", row.evidenceMode === "required" ? "needs" : "muted",
              row.evidenceMode === "required" ? "Evidence required: select it in the response" : "Evidence (optional): select it in the response"));
          }
        }
      });
      const done = rows.filter(rowDone).length;
      count.textContent = done + " / " + rows.length;
      const ready = complete();
      submit.button.disabled = !ready || busyNow;
      let hint;
      if (busyNow) hint = "Sending…";
      else if (state.message) hint = state.message;
      else if (ready) hint = "Ready: press Enter";
      else {
        const missing = rows[firstMissing()];
        hint = missing.value === null ? "Answer criterion " + (missing.index + 1) : "Select the evidence for criterion " + (missing.index + 1);
      }
      submit.hint.textContent = hint;
      submit.hint.classList.toggle("attention", Boolean(state.message) || (state.attention && !ready));
    }

    function trySubmit() {
      if (busyNow) return;
      if (!complete()) {
        state.attention = true;
        state.message = "";
        goTo(firstMissing());
        return;
      }
      hooks.submit();
    }

    function scroll(amount) {
      const step = amount === "page" ? body.clientHeight * 0.85 : amount === "-page" ? -body.clientHeight * 0.85 : amount;
      body.scrollBy({ top: step });
    }

    function key(name, event) {
      const row = rows[state.row];
      if (row.typedScale) {
        if (/^[0-9]$/.test(name)) {
          if (row.typed.length < String(row.k).length) row.typed += name;
          update();
          return true;
        }
        if (name === "Backspace" && row.typed) {
          row.typed = row.typed.slice(0, -1);
          update();
          return true;
        }
        if (name === "Enter" && row.typed) {
          const v = parseTyped(row, row.typed);
          row.typed = "";
          if (v === null) say("Type a whole number from 0 to " + row.k);
          else answer(row, v);
          return true;
        }
      }
      switch (name) {
        case "Enter":
          trySubmit();
          return true;
        case "Tab":
          goTo((state.row + (event && event.shiftKey ? -1 : 1) + rows.length) % rows.length);
          return true;
        case "Backspace":
          goTo(Math.max(0, state.row - 1));
          return true;
        case "Delete":
          if (row.evidence) {
            row.evidence = null;
            update();
          }
          return true;
        case "Escape":
          if (state.message) {
            say("");
            return true;
          }
          return false;
        case "ArrowUp":
          scroll(-80);
          return true;
        case "ArrowDown":
          scroll(80);
          return true;
        case "PageUp":
          scroll("-page");
          return true;
        case "PageDown":
          scroll("page");
          return true;
      }
      const lower = name.length === 1 ? name.toLowerCase() : name;
      if (row.ynp) {
        const option = YNP.filter(function (o) { return o.key === lower; })[0];
        if (option) {
          answer(row, option.value);
          return true;
        }
        return false;
      }
      if (!row.typedScale && /^[0-9]$/.test(name) && Number(name) <= row.k) {
        answer(row, Number(name));
        return true;
      }
      return false;
    }

    function response() {
      if (!complete()) return null;
      const out = {};
      rows.forEach(function (row) {
        const entry = { value: row.value };
        if (row.evidence) entry.evidence = { start: spans.codePoints(text, row.evidence.start), end: spans.codePoints(text, row.evidence.end) };
        out[row.id] = entry;
      });
      return { criteria: out };
    }

    function setBusy(flag) {
      busyNow = flag;
      update();
    }

    function shortcuts() {
      const list = [];
      if (rows.some(function (r) { return r.ynp; })) list.push([["Y", "P", "N"], "Yes / partial / no for the current criterion, then the next"]);
      const small = rows.filter(function (r) { return !r.ynp && !r.typedScale; });
      if (small.length) list.push([["0", "…", String(Math.max.apply(null, small.map(function (r) { return r.k; })))], "A point of the criterion's scale"]);
      if (rows.some(function (r) { return r.typedScale; })) list.push([["0", "…", "9", "Enter"], "Type a number on a wide scale and confirm it"]);
      if (anyEvidence) {
        list.push([["mouse"], "Select text in the response: evidence for the current criterion"]);
        list.push([["Del"], "Remove the current criterion's evidence"]);
      }
      list.push([["Tab"], "Next criterion (Shift+Tab: previous)"]);
      list.push([["Backspace"], "Previous criterion"]);
      list.push([["Enter"], "Submit, once every criterion is answered"]);
      return list;
    }

    function destroy() {
      document.removeEventListener("mouseup", onMouseUp);
    }

    update();
    return { root: root, key: key, response: response, setBusy: setBusy, shortcuts: shortcuts, destroy: destroy };
  }

  T.register("rubric", rubricWidget);
})();
