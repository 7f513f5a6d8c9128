// The pairwise widget (see widgets/common.js for the widget contract).
(function () {
  "use strict";

  const T = window.Trenchcoat;
  const el = T.dom.el;
  const kbd = T.dom.kbd;
  const renderRich = T.dom.renderRich;

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

  T.register("pairwise", pairwiseWidget);
})();
