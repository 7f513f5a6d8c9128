// The Likert widget: one candidate (or several side by side), each rated on every aspect
// of the study, each aspect on its own integer scale with optional point labels.
//
// The rating cells are visited candidate by candidate, aspect by aspect. Keys act on the
// current cell and move on to the next one left unanswered; once every cell is answered the
// unit is submitted by itself (after a short pause in which Backspace still undoes).
//   - Scales of at most 10 points are buttons. A digit picks a point: the point itself when
//     the scale lies within 0..9 (1-5: keys 1-5; 0-4: keys 0-4), else its position (1-9,
//     0 for the tenth).
//   - Wider scales (e.g. 0-100) are sliders: ← → move by 1 (Shift: by 10), digits type a
//     number ("-" for a negative one), Enter confirms. Dragging with the mouse works too.
// The response is {"ratings": {"<candidate id>": {"<aspect>": int}}}.
(function () {
  "use strict";

  const T = window.Trenchcoat;
  const el = T.dom.el;
  const kbd = T.dom.kbd;

  const MAX_BUTTONS = 10;
  const AUTO_SUBMIT_MS = 350;

  function keyFor(scale, index, point) {
    if (scale[0] >= 0 && scale[1] <= 9) return String(point);
    return index === 9 ? "0" : String(index + 1);
  }

  function likertWidget(unit, hooks) {
    const config = (unit.task && unit.task.config) || {};
    const candidates = unit.candidates || [];
    const aspects = (Array.isArray(config.aspects) ? config.aspects : []).map(function (a) {
      const scale = [Number(a.scale[0]), Number(a.scale[1])];
      const points = [];
      for (let p = scale[0]; p <= scale[1]; p++) points.push(p);
      const labels = a.labels || {};
      return {
        name: String(a.name),
        scale: scale,
        labels: labels,
        slider: points.length > MAX_BUTTONS,
        points: points,
        keys: points.length > MAX_BUTTONS ? [] : points.map(function (p, i) { return keyFor(scale, i, p); }),
      };
    });
    if (!candidates.length || !aspects.length) {
      return T.dom.brokenWidget("This Likert unit has no candidate or no aspect to rate.");
    }
    const many = candidates.length > 1;

    // cells[i] = one rating: candidate x aspect, in visiting order.
    const cells = [];
    candidates.forEach(function (cand, c) {
      aspects.forEach(function (aspect, a) {
        cells.push({ index: cells.length, cand: cand, c: c, aspect: aspect, a: a, value: null, draft: null, typed: "" });
      });
    });
    const state = { cell: 0, attention: false, pending: null, message: "" };
    let busyNow = false;

    const root = el("div", "likert");
    const grid = el("div", "candidates n-" + Math.min(candidates.length, 4));
    const bar = el("div", "choicebar");
    const area = el("div", "choice-area");
    const barRows = el("div", "choice-rows");
    area.appendChild(barRows);
    if (many) {
      // The rows sit under the candidates; the bar keeps a reminder of the keys.
      area.classList.add("likert-keys", "small", "muted");
      [[["1", "…", "9"], " pick a point and move on"], [["Backspace"], " back"], [["Esc"], " hold the automatic submit"]].forEach(function (part, i) {
        if (i) area.appendChild(document.createTextNode(" · "));
        part[0].forEach(function (k) { area.appendChild(kbd(k)); });
        area.appendChild(document.createTextNode(part[1]));
      });
    }
    bar.appendChild(area);
    const submit = T.dom.submitBox(trySubmit);
    bar.appendChild(submit.box);

    // Candidates, and where each candidate's rating rows go: under it when several are
    // shown side by side, in the bar at the bottom when there is one (as in pairwise).
    const rowBoxes = candidates.map(function (cand, c) {
      const article = el("article", "cand");
      article.dataset.candidateId = String(cand.id);
      const head = el("div", "cand-head");
      head.appendChild(el("span", "name", many ? "Response " + T.dom.letter(c) : "Response"));
      article.appendChild(head);
      const body = el("div", "cand-body");
      body.tabIndex = 0;
      body.setAttribute("aria-label", many ? "Response " + T.dom.letter(c) : "Response");
      T.dom.renderRich(body, cand.text == null ? "" : cand.text);
      article.appendChild(body);
      grid.appendChild(article);
      if (!many) return barRows;
      const footer = el("div", "cand-ratings choice-rows");
      article.appendChild(footer);
      return footer;
    });
    root.appendChild(grid);
    root.appendChild(bar);

    const rowEls = cells.map(function (cell) {
      const row = el("div", "choice-row rating-row");
      row.dataset.candidateId = String(cell.cand.id);
      row.dataset.aspect = cell.aspect.name;
      const label = el("div", "row-label", cell.aspect.name);
      label.title = cell.aspect.name + " (" + cell.aspect.scale[0] + "–" + cell.aspect.scale[1] + ")";
      row.appendChild(label);
      const controls = el("div", "choice-buttons");
      row.appendChild(controls);
      row.addEventListener("mousedown", function () {
        if (!busyNow && state.cell !== cell.index) {
          state.cell = cell.index;
          update();
        }
      });
      rowBoxes[cell.c].appendChild(row);
      const out = { row: row, label: label, controls: controls };
      if (cell.aspect.slider) buildSlider(cell, out);
      else buildButtons(cell, out);
      return out;
    });

    function buildButtons(cell, out) {
      out.buttons = cell.aspect.points.map(function (point, i) {
        const key = cell.aspect.keys[i];
        const b = el("button", "btn choice point");
        b.type = "button";
        b.dataset.value = String(point);
        const label = cell.aspect.labels[String(point)];
        if (key === String(point)) {
          b.appendChild(kbd(key));
        } else {
          b.appendChild(el("span", "pt", String(point).replace("-", "\u2212")));
        }
        if (label) b.appendChild(el("span", "lbl", label));
        if (key !== String(point)) b.appendChild(kbd(key));
        b.title = String(point) + (label ? ": " + label : "");
        b.addEventListener("click", function () {
          if (!busyNow) pick(cell, point);
        });
        out.controls.appendChild(b);
        return b;
      });
    }

    function buildSlider(cell, out) {
      const lo = cell.aspect.scale[0];
      const hi = cell.aspect.scale[1];
      const wrap = el("div", "slider");
      const range = el("input", "slider-range");
      range.type = "range";
      range.min = String(lo);
      range.max = String(hi);
      range.step = "1";
      range.value = String(Math.round((lo + hi) / 2));
      range.tabIndex = -1; // keys reach it through the widget, not through focus
      range.setAttribute("aria-label", cell.aspect.name);
      const ticks = el("div", "slider-ticks");
      Object.keys(cell.aspect.labels).forEach(function (point) {
        const tick = el("span", "tick", cell.aspect.labels[point]);
        tick.dataset.point = point;
        tick.classList.add(Number(point) === lo ? "at-lo" : Number(point) === hi ? "at-hi" : "at-mid");
        tick.style.left = (100 * (Number(point) - lo)) / (hi - lo) + "%";
        ticks.appendChild(tick);
      });
      const track = el("div", "slider-track");
      track.appendChild(range);
      track.appendChild(ticks);
      wrap.appendChild(el("span", "slider-end", String(lo)));
      wrap.appendChild(track);
      wrap.appendChild(el("span", "slider-end", String(hi)));
      const number = el("input", "slider-number");
      number.type = "text";
      number.inputMode = "numeric";
      number.autocomplete = "off";
      number.placeholder = "—";
      number.setAttribute("aria-label", cell.aspect.name + " (" + lo + "–" + hi + ")");
      wrap.appendChild(number);
      const confirm = el("span", "slider-hint small muted");
      wrap.appendChild(confirm);
      range.addEventListener("input", function () {
        if (busyNow) return;
        state.cell = cell.index;
        cell.draft = Number(range.value);
        cell.typed = "";
        update();
      });
      range.addEventListener("change", function () {
        // Letting go of the slider answers the cell; it does not submit by itself.
        if (busyNow) return;
        setValue(cell, Number(range.value), false);
      });
      number.addEventListener("focus", function () {
        state.cell = cell.index;
        update();
      });
      number.addEventListener("keydown", function (event) {
        if (event.key === "Enter") {
          event.preventDefault();
          const v = parseTyped(cell, number.value.trim());
          if (v === null) {
            state.message = "Type a whole number from " + lo + " to " + hi;
            update();
            return;
          }
          number.blur();
          setValue(cell, v, true);
        }
      });
      out.controls.appendChild(wrap);
      out.range = range;
      out.number = number;
      out.confirm = confirm;
    }

    function parseTyped(cell, text) {
      if (!/^-?\d{1,4}$/.test(text)) return null;
      const v = Number(text);
      return v >= cell.aspect.scale[0] && v <= cell.aspect.scale[1] ? v : null;
    }

    function firstMissing(from) {
      for (let i = from || 0; i < cells.length; i++) if (cells[i].value === null) return i;
      if (from) for (let i = 0; i < from; i++) if (cells[i].value === null) return i;
      return -1;
    }

    function complete() {
      return firstMissing() < 0;
    }

    function cancelPending() {
      if (state.pending !== null) {
        window.clearTimeout(state.pending);
        state.pending = null;
      }
    }

    // An answer for a cell; then the next unanswered cell, or the submit when none is left
    // (`auto`: the answer came from a key or a click on a point, not from a drag).
    function setValue(cell, value, auto) {
      cancelPending();
      cell.value = value;
      cell.draft = null;
      cell.typed = "";
      state.attention = false;
      state.message = "";
      const next = firstMissing(cell.index + 1);
      if (next >= 0) state.cell = next;
      update();
      if (next < 0 && auto) {
        state.pending = window.setTimeout(function () {
          state.pending = null;
          update();
          if (complete()) hooks.submit();
        }, AUTO_SUBMIT_MS);
        update();
      }
    }

    function pick(cell, point) {
      state.cell = cell.index;
      setValue(cell, point, true);
    }

    function update() {
      cells.forEach(function (cell, i) {
        const out = rowEls[i];
        out.row.classList.toggle("current", i === state.cell);
        out.row.classList.toggle("answered", cell.value !== null);
        out.label.querySelectorAll(".done-mark").forEach(function (n) { n.remove(); });
        if (cell.value !== null) out.label.appendChild(el("span", "done-mark", "✓"));
        if (out.buttons) {
          out.buttons.forEach(function (b) {
            const on = cell.value !== null && Number(b.dataset.value) === cell.value;
            b.classList.toggle("selected", on);
            b.setAttribute("aria-pressed", on ? "true" : "false");
            b.disabled = busyNow;
          });
        } else {
          const shown = cell.draft !== null ? cell.draft : cell.value;
          out.range.classList.toggle("unset", shown === null);
          if (shown !== null) out.range.value = String(shown);
          out.range.disabled = busyNow;
          if (document.activeElement !== out.number) {
            out.number.value = cell.typed !== "" ? cell.typed : shown === null ? "" : String(shown);
          }
          out.number.readOnly = busyNow;
          out.number.classList.toggle("draft", cell.typed !== "" || cell.draft !== null);
          out.confirm.replaceChildren();
          if (i === state.cell && (cell.typed !== "" || cell.draft !== null)) {
            out.confirm.appendChild(kbd("Enter"));
            out.confirm.appendChild(document.createTextNode(" to confirm"));
          }
        }
      });
      const ready = complete();
      submit.button.disabled = !ready || busyNow;
      let hint = "";
      if (busyNow) hint = "Sending…";
      else if (state.pending !== null) hint = "Sending… (Esc holds it)";
      else if (state.message) hint = state.message;
      else if (ready) hint = "Ready: press Enter";
      else {
        const missing = cells[firstMissing()];
        hint = "Rate “" + missing.aspect.name + "”" + (many ? " of response " + T.dom.letter(missing.c) : "");
      }
      submit.hint.textContent = hint;
      submit.hint.classList.toggle("attention", (state.attention && !ready) || Boolean(state.message));
    }

    function trySubmit() {
      if (busyNow) return;
      cancelPending();
      if (!complete()) {
        state.attention = true;
        state.cell = firstMissing();
        update();
        return;
      }
      hooks.submit();
    }

    function scrollPanes(amount) {
      grid.querySelectorAll(".cand-body").forEach(function (body) {
        const step = amount === "page" ? body.clientHeight * 0.85 : amount === "-page" ? -body.clientHeight * 0.85 : amount;
        body.scrollBy({ top: step });
      });
    }

    function sliderKey(cell, name, event) {
      const lo = cell.aspect.scale[0];
      const hi = cell.aspect.scale[1];
      if (name === "ArrowLeft" || name === "ArrowRight") {
        const base = cell.draft !== null ? cell.draft : cell.value !== null ? cell.value : Math.round((lo + hi) / 2);
        const step = (event && event.shiftKey ? 10 : 1) * (name === "ArrowLeft" ? -1 : 1);
        cell.draft = Math.max(lo, Math.min(hi, base + step));
        cell.typed = "";
        state.message = "";
        update();
        return true;
      }
      if (/^[0-9]$/.test(name) || (name === "-" && lo < 0)) {
        const typed = name === "-" ? (cell.typed.startsWith("-") ? cell.typed.slice(1) : "-" + cell.typed) : cell.typed + name;
        if (typed.replace("-", "").length > String(Math.max(Math.abs(lo), Math.abs(hi))).length) return true;
        cell.typed = typed;
        cell.draft = null;
        state.message = "";
        update();
        return true;
      }
      if (name === "Backspace" && cell.typed !== "") {
        cell.typed = cell.typed.slice(0, -1);
        update();
        return true;
      }
      if (name === "Enter" && (cell.typed !== "" || cell.draft !== null)) {
        const v = cell.typed !== "" ? parseTyped(cell, cell.typed) : cell.draft;
        if (v === null) {
          state.message = "Type a whole number from " + lo + " to " + hi;
          cell.typed = "";
          update();
          return true;
        }
        setValue(cell, v, true);
        return true;
      }
      return false;
    }

    function key(name, event) {
      const cell = cells[state.cell];
      if (cell.aspect.slider && sliderKey(cell, name, event)) return true;
      switch (name) {
        case "Enter":
          trySubmit();
          return true;
        case "Backspace":
          cancelPending();
          if (state.cell > 0) state.cell -= 1;
          update();
          return true;
        case "Escape":
          if (state.pending !== null) {
            cancelPending();
            update();
            return true;
          }
          return false;
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
      }
      if (!cell.aspect.slider) {
        const i = cell.aspect.keys.indexOf(name);
        if (i >= 0) {
          pick(cell, cell.aspect.points[i]);
          return true;
        }
      }
      return false;
    }

    function response() {
      if (!complete()) return null;
      const ratings = {};
      cells.forEach(function (cell) {
        const id = String(cell.cand.id);
        if (!ratings[id]) ratings[id] = {};
        ratings[id][cell.aspect.name] = cell.value;
      });
      return { ratings: ratings };
    }

    function setBusy(flag) {
      busyNow = flag;
      update();
    }

    function shortcuts() {
      const list = [];
      const buttons = aspects.filter(function (a) { return !a.slider; });
      buttons.forEach(function (a) {
        const keys = a.keys.length > 3 ? [a.keys[0], "…", a.keys[a.keys.length - 1]] : a.keys.slice();
        list.push([keys, "“" + a.name + "”: pick a point (" + a.scale[0] + "–" + a.scale[1] + ") and move on"]);
      });
      if (aspects.some(function (a) { return a.slider; })) {
        list.push([["←", "→"], "Slider: move by 1 (with Shift: by 10)"]);
        list.push([["0", "…", "9"], "Slider: type a number, then Enter to confirm it"]);
      }
      list.push([["Backspace"], "Back to the previous rating"]);
      list.push([["Enter"], "Submit (it happens by itself once everything is rated)"]);
      list.push([["Esc"], "Hold the automatic submit"]);
      return list;
    }

    function destroy() {
      cancelPending();
    }

    update();
    return { root: root, key: key, response: response, setBusy: setBusy, shortcuts: shortcuts, destroy: destroy };
  }

  T.register("likert", likertWidget);
})();
