// Researcher pages: task-type / strategy defaults on the new-study form, and export jobs
// that refresh themselves while they run. Data from the API is shown with textContent.
(function () {
  "use strict";

  // --- new study: swap the JSON defaults when the task type or strategy changes ---------
  function readJSON(id) {
    const node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  function linkDefaults(selectId, textareaId, defaults) {
    const select = document.getElementById(selectId);
    const textarea = document.getElementById(textareaId);
    if (!select || !textarea || !defaults) return;
    let shown = JSON.stringify(defaults[select.value] || {}, null, 2);
    select.addEventListener("change", function () {
      const next = JSON.stringify(defaults[select.value] || {}, null, 2);
      // Only replace what the user has not edited.
      if (textarea.value.trim() === "" || textarea.value.trim() === shown.trim()) {
        textarea.value = next;
      }
      shown = next;
    });
  }

  linkDefaults("id_task_type", "id_task_config", readJSON("task-defaults"));
  linkDefaults("id_strategy", "id_strategy_params", readJSON("strategy-defaults"));
  linkDefaults("id_pick_strategy", "id_pick_strategy_params", readJSON("strategy-defaults")); // study page picker

  // --- study page: export and import jobs -------------------------------------------------
  const POLL_MS = 1500;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function running(statuses) {
    return statuses.some(function (s) { return s === "pending" || s === "running"; });
  }

  function formatDate(iso) {
    const d = new Date(iso);
    if (isNaN(d.getTime())) return "";
    const pad = function (n) { return String(n).padStart(2, "0"); };
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  function badge(status) {
    const cell = el("td");
    cell.appendChild(el("span", "badge job-" + String(status).replace(/[^a-z]/g, ""), status));
    return cell;
  }

  function emptyRow(text, columns) {
    const tr = el("tr", "empty-row");
    const td = el("td", "muted", text);
    td.colSpan = columns;
    tr.appendChild(td);
    return tr;
  }

  // A retry is a plain form post (the same one the page renders without JS).
  function retryForm(table, job) {
    const form = el("form", "inline retry-form");
    form.method = "post";
    form.action = table.dataset.retryUrl.replace(/\/0\/retry\/$/, "/" + encodeURIComponent(job.id) + "/retry/");
    const token = document.querySelector("#export-form input[name=csrfmiddlewaretoken]");
    if (token) {
      const hidden = el("input");
      hidden.type = "hidden";
      hidden.name = "csrfmiddlewaretoken";
      hidden.value = token.value;
      form.appendChild(hidden);
    }
    const button = el("button", "btn small", "Retry");
    button.type = "submit";
    button.dataset.retry = String(job.id);
    form.appendChild(button);
    return form;
  }

  function exportRow(table, job) {
    const tr = el("tr");
    tr.dataset.job = String(job.id);
    tr.dataset.status = job.status;
    tr.appendChild(el("td", "", job.id));
    tr.appendChild(el("td", "mono", job.format));
    tr.appendChild(badge(job.status));
    const progressCell = el("td");
    const bar = el("progress");
    bar.max = 1;
    bar.value = Number(job.progress) || 0;
    progressCell.appendChild(bar);
    progressCell.appendChild(document.createTextNode(" "));
    const pct = job.status === "running" && job.rows_total ? " (" + Math.floor(100 * (Number(job.progress) || 0)) + "%)" : "";
    progressCell.appendChild(el("span", "small muted", job.rows_done + " / " + job.rows_total + pct));
    tr.appendChild(progressCell);
    tr.appendChild(el("td", "small", formatDate(job.created_at)));
    const action = el("td");
    if (job.status === "done" && job.download_url) {
      const link = el("a", "btn small", "Download");
      link.href = job.download_url;
      link.setAttribute("download", "");
      action.appendChild(link);
    } else if (job.status === "failed") {
      action.appendChild(el("span", "error small", job.error));
    } else if (job.stale) {
      action.appendChild(el("span", "error small", "Its worker stopped responding."));
    }
    if (job.can_retry) {
      action.appendChild(document.createTextNode(" "));
      action.appendChild(retryForm(table, job));
    }
    tr.appendChild(action);
    return tr;
  }

  function importRow(table, job) {
    const tr = el("tr");
    tr.dataset.import = String(job.id);
    tr.dataset.status = job.status;
    tr.appendChild(el("td", "", job.id));
    tr.appendChild(el("td", "mono break", job.filename));
    const what = el("td", "small", job.kind + " · ");
    what.appendChild(el("span", "mono", job.format));
    tr.appendChild(what);
    tr.appendChild(badge(job.status));
    let progress = "";
    if (job.status === "running") progress = (job.lines_read || 0) + " lines read";
    else if (job.status === "done") progress = job.rows_done + " rows taken";
    tr.appendChild(el("td", "small muted", progress));
    const result = el("td", "small");
    if (job.status === "done") {
      result.textContent = Object.keys(job.counts || {}).map(function (key) {
        const value = job.counts[key];
        return key + ": " + (Array.isArray(value) ? value.join(", ") : value);
      }).join(" · ");
    } else if (job.status === "failed") {
      result.appendChild(el("span", "error", job.error));
      const where = Object.keys(job.errors || {});
      if (where.length) {
        const list = el("ul", "plain");
        where.forEach(function (key) {
          const li = el("li");
          li.appendChild(el("span", "mono", key));
          li.appendChild(document.createTextNode(": " + job.errors[key]));
          list.appendChild(li);
        });
        result.appendChild(list);
      }
    }
    tr.appendChild(result);
    return tr;
  }

  // Keeps a table of jobs fresh while any of them is pending or running.
  function watch(tableId, rowsId, renderRow, emptyText) {
    const table = document.getElementById(tableId);
    const rows = document.getElementById(rowsId);
    if (!table || !rows) return;
    const columns = table.querySelectorAll("thead th").length;
    let timer = null;

    function render(jobs) {
      const body = document.createDocumentFragment();
      if (!jobs.length) body.appendChild(emptyRow(emptyText, columns));
      jobs.forEach(function (job) { body.appendChild(renderRow(table, job)); });
      rows.replaceChildren(body);
    }

    function poll() {
      timer = null;
      fetch(table.dataset.url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (res) {
          if (!res.ok) throw new Error("HTTP " + res.status);
          return res.json();
        })
        .then(function (jobs) {
          render(jobs);
          if (running(jobs.map(function (j) { return j.status; }))) schedule();
        })
        .catch(function () { schedule(POLL_MS * 4); });
    }

    function schedule(delay) {
      if (timer === null) timer = window.setTimeout(poll, delay || POLL_MS);
    }

    const initial = Array.prototype.map.call(rows.querySelectorAll("tr[data-status]"), function (tr) { return tr.dataset.status; });
    if (running(initial)) schedule();
  }

  watch("export-table", "export-rows", exportRow, "No exports yet.");
  watch("import-table", "import-rows", importRow, "None yet.");
})();
