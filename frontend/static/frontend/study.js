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

  // --- study page: export jobs ------------------------------------------------------------
  const table = document.getElementById("export-table");
  if (!table) return;
  const rows = document.getElementById("export-rows");
  const POLL_MS = 1500;
  let timer = null;

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

  function renderJobs(jobs) {
    const body = document.createDocumentFragment();
    if (!jobs.length) {
      const tr = el("tr", "empty-row");
      const td = el("td", "muted", "No exports yet.");
      td.colSpan = 6;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    jobs.forEach(function (job) {
      const tr = el("tr");
      tr.dataset.job = String(job.id);
      tr.dataset.status = job.status;
      tr.appendChild(el("td", "", job.id));
      tr.appendChild(el("td", "mono", job.format));
      const statusCell = el("td");
      statusCell.appendChild(el("span", "badge job-" + String(job.status).replace(/[^a-z]/g, ""), job.status));
      tr.appendChild(statusCell);
      const progressCell = el("td");
      const bar = el("progress");
      bar.max = 1;
      bar.value = Number(job.progress) || 0;
      progressCell.appendChild(bar);
      progressCell.appendChild(document.createTextNode(" "));
      progressCell.appendChild(el("span", "small muted", job.rows_done + " / " + job.rows_total));
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
      }
      tr.appendChild(action);
      body.appendChild(tr);
    });
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
        renderJobs(jobs);
        if (running(jobs.map(function (j) { return j.status; }))) schedule();
      })
      .catch(function () { schedule(POLL_MS * 4); });
  }

  function schedule(delay) {
    if (timer === null) timer = window.setTimeout(poll, delay || POLL_MS);
  }

  const initial = Array.prototype.map.call(rows.querySelectorAll("tr[data-status]"), function (tr) { return tr.dataset.status; });
  if (running(initial)) schedule();
})();
