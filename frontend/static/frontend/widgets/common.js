// Shared by the annotator app (annotate.js) and its task widgets (widgets/*.js): a registry
// of widgets by task type name, and DOM helpers that put untrusted text on the page with
// textContent / createTextNode only, never as HTML.
//
// A widget is make(unit, hooks) -> {root, key(name, event), response(), setBusy(flag),
// shortcuts(), [ownsPrompt], [shown()], [destroy()]}:
//   root        the element shown under the prompt;
//   key         handles one keydown (event.key) and says whether it used it;
//   response    the response to submit, or null while it is incomplete;
//   setBusy     true while a submit is in flight (the widget shows it and ignores input);
//   shortcuts   [[keys], "what they do"] rows for the help overlay;
//   ownsPrompt  true when the widget renders the prompt itself (e.g. the MQM source, where
//               spans can be marked), so the app hides its own prompt panel;
//   shown       called once the widget is on the page (to measure or focus);
//   destroy     called when the widget is replaced (to drop document-level listeners).
// hooks.submit() sends the response (the app ignores it while a submit is in flight).
(function () {
  "use strict";

  const widgets = {};

  function register(name, make) {
    widgets[name] = make;
  }

  function get(name) {
    return Object.prototype.hasOwnProperty.call(widgets, name) ? widgets[name] : null;
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function kbd(label) {
    return el("kbd", "", label);
  }

  function button(className, label, keys, onClick) {
    const node = el("button", "btn" + (className ? " " + className : ""));
    node.type = "button";
    node.appendChild(document.createTextNode(label + (keys && keys.length ? " " : "")));
    (keys || []).forEach(function (k) { node.appendChild(kbd(k)); });
    if (onClick) node.addEventListener("click", onClick);
    return node;
  }

  // Invisible or direction-changing characters are shown as visible markers, so that what
  // an annotator reads is what the text really contains. All of them are one UTF-16 unit.
  const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\u200B\u202A-\u202E\u2060\u2066-\u2069\uFEFF]/g;

  function controlLabel(code) {
    if (code < 0x20) return String.fromCharCode(0x2400 + code); // control pictures: ␀ ␇ ␛ ...
    if (code === 0x7f) return "\u2421";
    return "U+" + code.toString(16).toUpperCase().padStart(4, "0");
  }

  function controlMark(code) {
    const mark = el("span", "ctrl", controlLabel(code));
    mark.title = "invisible character U+" + code.toString(16).toUpperCase().padStart(4, "0");
    return mark;
  }

  function appendText(parent, text) {
    let last = 0;
    let match;
    CONTROL.lastIndex = 0;
    while ((match = CONTROL.exec(text)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      parent.appendChild(controlMark(match[0].charCodeAt(0)));
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

  // The prompt as one string, exactly as the server builds it (annotation.selectors
  // .prompt_text): MQM source spans index into this text.
  function promptText(prompt) {
    if (prompt == null) return "";
    if (typeof prompt === "string") return prompt;
    if (Array.isArray(prompt)) {
      return prompt.map(function (m) { return String(m && m.role) + ": " + String(m && m.content); }).join("\n\n");
    }
    return String(prompt);
  }

  // "Response A", "Response B", ... for the i-th candidate shown.
  function letter(i) {
    let out = "";
    let n = i;
    do {
      out = String.fromCharCode(65 + (n % 26)) + out;
      n = Math.floor(n / 26) - 1;
    } while (n >= 0);
    return out;
  }

  // The submit box every widget shares: a primary button and a one-line hint under it.
  function submitBox(onClick) {
    const box = el("div", "submit-box");
    const submit = button("primary", "Submit", ["Enter"], onClick);
    const hint = el("div", "submit-hint");
    box.appendChild(submit);
    box.appendChild(hint);
    return { box: box, button: submit, hint: hint };
  }

  // A widget that cannot work with this unit says why and does nothing else.
  function brokenWidget(message) {
    const root = el("div", "widget-broken");
    root.appendChild(el("p", "error", message));
    return { root: root, key: function () { return false; }, response: function () { return null; }, setBusy: function () {}, shortcuts: function () { return []; } };
  }

  window.Trenchcoat = {
    register: register,
    get: get,
    dom: {
      el: el,
      kbd: kbd,
      button: button,
      appendText: appendText,
      controlMark: controlMark,
      controlPattern: CONTROL,
      renderRich: renderRich,
      promptText: promptText,
      letter: letter,
      submitBox: submitBox,
      brokenWidget: brokenWidget,
    },
  };
})();
