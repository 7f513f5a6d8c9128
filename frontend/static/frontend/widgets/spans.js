// Text in which spans can be marked with the mouse and shown as highlights (MQM errors,
// rubric evidence).
//
// The text is untrusted: it is split at the span offsets into pieces, each put on the page
// with createTextNode (highlighted pieces inside a <span> made with createElement), never as
// HTML. Invisible characters are shown as markers, as elsewhere in the app.
//
// Offsets: inside the page everything is in UTF-16 code units (JavaScript string indices);
// the server counts Unicode code points (Python str indices). codePoints() and utf16()
// convert; a widget converts once, when it builds the response.
(function () {
  "use strict";

  const T = window.Trenchcoat;
  const el = T.dom.el;
  const CONTROL = T.dom.controlPattern;

  function isHigh(code) { return code >= 0xd800 && code <= 0xdbff; }
  function isLow(code) { return code >= 0xdc00 && code <= 0xdfff; }

  // The code point offset of a UTF-16 offset into text.
  function codePoints(text, u16) {
    return Array.from(text.slice(0, u16)).length;
  }

  // The UTF-16 offset of a code point offset into text.
  function utf16(text, cp) {
    let i = 0;
    for (let n = 0; n < cp && i < text.length; n++) {
      i += isHigh(text.charCodeAt(i)) && i + 1 < text.length && isLow(text.charCodeAt(i + 1)) ? 2 : 1;
    }
    return i;
  }

  // new SpanText(container, text): renders text into container; marks are
  // [{start, end, key, cls, rank}] in UTF-16 offsets (end > start). A piece covered by
  // several marks takes the class of the one with the highest rank.
  function SpanText(container, text) {
    this.container = container;
    this.text = String(text == null ? "" : text);
    this.leaves = [];
    this.leafOf = new Map();
    container.classList.add("spantext");
    this.render([]);
  }

  SpanText.prototype.render = function (marks) {
    const text = this.text;
    const container = this.container;
    this.leaves = [];
    this.leafOf = new Map();
    container.replaceChildren();
    if (!text.length) {
      container.appendChild(el("span", "muted", "(empty)"));
      return;
    }
    const list = (marks || []).filter(function (m) { return m.end > m.start && m.start >= 0 && m.end <= text.length; });
    const cuts = new Set([0, text.length]);
    list.forEach(function (m) { cuts.add(m.start); cuts.add(m.end); });
    const points = Array.from(cuts).sort(function (a, b) { return a - b; });
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i];
      const b = points[i + 1];
      const covering = list.filter(function (m) { return m.start < b && m.end > a; });
      if (!covering.length) {
        this.appendPiece(container, a, b);
        continue;
      }
      let top = covering[0];
      covering.forEach(function (m) { if ((m.rank || 0) > (top.rank || 0)) top = m; });
      const span = el("span", "mark" + (top.cls ? " " + top.cls : ""));
      if (covering.length > 1) span.classList.add("overlap");
      if (a === top.start) span.classList.add("mark-start");
      if (b === top.end) span.classList.add("mark-end");
      span.dataset.keys = covering.map(function (m) { return String(m.key); }).join(" ");
      if (top.title) span.title = top.title;
      this.appendPiece(span, a, b);
      container.appendChild(span);
    }
  };

  // Text nodes for text[a:b], invisible characters as markers; each is a leaf whose
  // UTF-16 start is known, so that a selection can be mapped back to offsets.
  SpanText.prototype.appendPiece = function (parent, a, b) {
    const text = this.text;
    const self = this;
    function leaf(node, start, ctrl) {
      const entry = { node: node, start: start, ctrl: ctrl };
      self.leaves.push(entry);
      self.leafOf.set(node, entry);
      parent.appendChild(node);
    }
    const chunk = text.slice(a, b);
    let last = 0;
    let match;
    CONTROL.lastIndex = 0;
    while ((match = CONTROL.exec(chunk)) !== null) {
      if (match.index > last) leaf(document.createTextNode(chunk.slice(last, match.index)), a + last, false);
      leaf(T.dom.controlMark(match[0].charCodeAt(0)), a + match.index, true);
      last = match.index + match[0].length;
    }
    if (last < chunk.length) leaf(document.createTextNode(chunk.slice(last)), a + last, false);
  };

  // The UTF-16 offset of a DOM boundary point inside the container.
  SpanText.prototype.offsetOf = function (node, offset) {
    let entry = this.leafOf.get(node);
    if (!entry && node.nodeType === Node.TEXT_NODE && node.parentNode) {
      const parentEntry = this.leafOf.get(node.parentNode);
      if (parentEntry && parentEntry.ctrl) entry = parentEntry;
    }
    if (entry) {
      if (entry.ctrl) return entry.start + (offset > 0 ? 1 : 0);
      return entry.start + Math.min(offset, entry.node.length);
    }
    // A point between elements: the start of the first leaf at or after it.
    const range = document.createRange();
    range.setStart(node, offset);
    range.collapse(true);
    for (let i = 0; i < this.leaves.length; i++) {
      if (range.comparePoint(this.leaves[i].node, 0) >= 0) return this.leaves[i].start;
    }
    return this.text.length;
  };

  // The window's selection as {start, end} UTF-16 offsets into this text, or null when
  // nothing of this text is selected. Surrounding white space is left out (unless the
  // selection is only white space), and a surrogate pair is never cut in two.
  SpanText.prototype.selection = function () {
    const sel = window.getSelection();
    if (!sel || !sel.rangeCount || sel.isCollapsed || !this.text.length) return null;
    const range = sel.getRangeAt(0);
    const inStart = this.container.contains(range.startContainer);
    const inEnd = this.container.contains(range.endContainer);
    if (!inStart && !inEnd) return null;
    const text = this.text;
    let start = inStart ? this.offsetOf(range.startContainer, range.startOffset) : 0;
    let end = inEnd ? this.offsetOf(range.endContainer, range.endOffset) : text.length;
    if (start > end) { const t = start; start = end; end = t; }
    if (start > 0 && isLow(text.charCodeAt(start)) && isHigh(text.charCodeAt(start - 1))) start -= 1;
    if (end < text.length && end > 0 && isLow(text.charCodeAt(end)) && isHigh(text.charCodeAt(end - 1))) end += 1;
    let s = start;
    let e = end;
    while (s < e && /\s/.test(text[s])) s++;
    while (e > s && /\s/.test(text[e - 1])) e--;
    if (s < e) { start = s; end = e; }
    return start < end ? { start: start, end: end } : null;
  };

  SpanText.prototype.slice = function (start, end) {
    return this.text.slice(start, end);
  };

  // The highlight elements of the mark with this key (several when pieces were split).
  SpanText.prototype.markElements = function (key) {
    return Array.prototype.filter.call(this.container.querySelectorAll(".mark"), function (node) {
      return node.dataset.keys.split(" ").indexOf(String(key)) >= 0;
    });
  };

  function clearSelection() {
    const sel = window.getSelection();
    if (sel && sel.rangeCount) sel.removeAllRanges();
  }

  // A short one-line quote of a span, for lists and hints.
  function quote(text, limit) {
    const flat = text.replace(/\s+/g, " ").trim();
    const max = limit || 80;
    if (flat.length <= max) return flat;
    return Array.from(flat).slice(0, max - 1).join("") + "…";
  }

  T.spans = { SpanText: SpanText, codePoints: codePoints, utf16: utf16, clearSelection: clearSelection, quote: quote };
})();
