// Tandem console: the few things pages do in the browser. Every action calls the public API
// (/api/v1) with the session cookie; errors come back as problem details whose `errors`
// name the field, and are shown at that field.
"use strict";

// A fresh Idempotency-Key: a form sends the same one until what it handed over is accepted,
// so a double click or a retry after a lost answer hands nothing over twice.
function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));  // also on plain HTTP
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function api(method, url, body, headers = {}) {
  const init = { method, credentials: "same-origin", headers: { ...headers } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(url, init);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = { detail: text }; }
  return { status: response.status, ok: response.ok, data };
}

function toast(message) {
  const box = document.getElementById("toast");
  box.textContent = message;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { box.textContent = ""; }, 6000);
}

function problemText(result) {
  return (result.data && (result.data.detail || result.data.title)) || `error ${result.status}`;
}

// -- forms drawn from a JSON Schema (tandem.web.forms) ------------------------------------

function formValues(form) {
  const values = {};
  for (const control of form.querySelectorAll("[data-kind]")) {
    const kind = control.dataset.kind;
    if (kind === "checkbox") { values[control.name] = control.checked; continue; }
    const raw = control.value.trim();
    if (raw === "") continue;
    if (kind === "integer" || kind === "number") {
      const number = Number(raw);
      values[control.name] = Number.isFinite(number) ? number : raw;
    } else {
      values[control.name] = raw;
    }
  }
  return values;
}

function clearErrors(form) {
  for (const node of form.querySelectorAll(".field-error")) node.remove();
  for (const node of form.querySelectorAll("[aria-invalid]")) {
    node.removeAttribute("aria-invalid");
    node.removeAttribute("aria-describedby");
  }
}

// Show each error at its field; returns the errors no field of this form could take.
function showErrors(form, errors, prefix) {
  const unplaced = [];
  let first = null;
  for (const error of errors || []) {
    let name = error.field || "";
    if (prefix && name.startsWith(prefix)) name = name.slice(prefix.length);
    const control = name && form.querySelector(`[name="${CSS.escape(name)}"]`);
    if (!control) { unplaced.push(error); continue; }
    const note = document.createElement("span");
    note.className = "field-error";
    note.id = `${control.id}-error`;
    note.textContent = error.message;
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", note.id);
    control.insertAdjacentElement("afterend", note);
    first = first || control;
  }
  if (first) first.focus();
  return unplaced;
}

// -- sign-in ------------------------------------------------------------------------------

function signIn(form) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = document.getElementById("sign-in-error");
    const result = await api("POST", "/api/v1/auth/sign-in", {
      email: form.email.value, password: form.password.value,
    });
    if (result.ok) {
      const next = form.dataset.next;
      window.location.assign(next && next.startsWith("/") && !next.startsWith("//") ? next : "/console");
      return;
    }
    message.hidden = false;
    message.textContent = result.status === 429
      ? "Too many attempts from here: wait a minute and try again."
      : "The email or password is wrong, or the account must wait a while.";
    form.password.value = "";
    form.password.focus();
  });
}

// -- agent workbench ----------------------------------------------------------------------

async function takeNext(held) {
  // An agent holding an item goes back to it rather than claiming a second one.
  if (held) { window.location.assign(held); return; }
  const result = await api("POST", "/api/v1/dispatch/claim");
  if (result.status === 204) { toast("Nothing to do in your queues right now."); return; }
  if (!result.ok) { toast(problemText(result)); return; }
  window.location.assign(`/console/work/${result.data.item_id}`);
}

function workbench(root) {
  const next = root.querySelector("[data-action=next]");
  const held = root.dataset.held || "";
  if (next) next.addEventListener("click", () => takeNext(held));
  document.addEventListener("keydown", (event) => {
    const typing = event.target.closest("input, textarea, select");
    if (!typing && event.key === "n" && !event.ctrlKey && !event.metaKey && !event.altKey) {
      event.preventDefault();
      takeNext(held);
    }
  });
}

// The lease of the item a page shows (root's data-item, data-attempt, data-lease-seconds) is
// kept alive while the page is open: renewed at once on opening (an item reopened from
// "Items you hold" may have little of its lease left), then every third of it. Lost: the
// page says so (.lease-status) and its buttons are disabled. Returns what stops the renewals.
function keepLease(root) {
  const itemId = root.dataset.item;
  const attempt = Number(root.dataset.attempt);
  const status = root.querySelector(".lease-status");
  const every = Math.max(5, Number(root.dataset.leaseSeconds) / 3) * 1000;
  let beat = null;
  async function renew() {
    const result = await api("POST", `/api/v1/leases/${itemId}/heartbeat`, { attempt });
    if (!result.ok) {
      clearInterval(beat);
      status.textContent = "This item is no longer yours: the lease was lost.";
      status.classList.add("bad");
      for (const button of root.querySelectorAll("button")) button.disabled = true;
    }
  }
  renew();
  beat = setInterval(renew, every);
  return () => clearInterval(beat);
}

function leasedItem(root) {
  const itemId = root.dataset.item;
  const attempt = Number(root.dataset.attempt);
  const form = root.querySelector("form.result");
  const stop = keepLease(root);
  const first = form && form.querySelector("input, textarea, select");
  if (first) first.focus();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const result = await api("POST", `/api/v1/leases/${itemId}/submit`, {
      attempt, result: formValues(form),
    });
    if (result.ok) {
      stop();
      toast(`Submitted (${result.data.state}).`);
      window.location.assign("/console/work?done=" + itemId);
      return;
    }
    const rest = showErrors(form, result.data && result.data.errors, "result.");
    toast(rest.length ? rest.map((e) => `${e.field}: ${e.message}`).join("; ") : problemText(result));
  });

  const release = root.querySelector("[data-action=release]");
  release.addEventListener("click", async () => {
    const result = await api("POST", `/api/v1/leases/${itemId}/release`, { attempt });
    if (result.ok || result.status === 204) {
      stop();
      window.location.assign("/console/work");
    } else {
      toast(problemText(result));
    }
  });

  for (const button of root.querySelectorAll("[data-reveal]")) {
    button.addEventListener("click", async () => {
      const reason = window.prompt("Why does this work need the value? (recorded)");
      if (!reason) return;
      const field = button.dataset.reveal;
      const result = await api("POST", `/api/v1/leases/${itemId}/reveal`, { fields: [field], reason });
      if (!result.ok) { toast(problemText(result)); return; }
      const value = root.querySelector(`[data-field="${CSS.escape(field)}"]`);
      value.textContent = String(result.data[field]);
      value.classList.remove("masked");
      button.remove();
    });
  }
}

// -- client portal ------------------------------------------------------------------------

function handOver(root) {
  const processId = root.dataset.process;
  const one = document.getElementById("one-item");
  let oneKey = newKey();
  one.addEventListener("input", () => { oneKey = newKey(); });  // changed: another item
  one.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(one);
    const done = document.getElementById("one-item-done");
    const body = { payload: formValues(one) };
    if (one.external_ref.value.trim()) body.external_ref = one.external_ref.value.trim();
    const result = await api(
      "POST", `/api/v1/processes/${processId}/work-items`, body, { "Idempotency-Key": oneKey },
    );
    if (result.ok) {
      oneKey = newKey();
      done.innerHTML = "";
      const link = document.createElement("a");
      link.href = `/console/portal/items/${result.data.id}`;
      link.textContent = "Handed over: follow it here.";
      done.append(link);
      one.reset();
      return;
    }
    const rest = showErrors(one, result.data && result.data.errors, "payload.");
    toast(rest.length ? rest.map((e) => `${e.field}: ${e.message}`).join("; ") : problemText(result));
  });

  const upload = document.getElementById("upload");
  let uploadKey = newKey();
  upload.addEventListener("change", () => { uploadKey = newKey(); });  // another file or mode
  upload.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = upload.file.files[0];
    const status = document.getElementById("upload-status");
    const table = document.getElementById("upload-errors");
    const progress = document.getElementById("upload-progress");
    if (!file) { status.textContent = "Choose a file first."; upload.file.focus(); return; }
    const data = new FormData();
    data.append("file", file);
    data.append("mode", upload.mode.value);
    data.append("reference_column", upload.reference_column.value.trim() || "external_ref");
    const request = new XMLHttpRequest();  // fetch() reports no upload progress
    request.open("POST", `/api/v1/processes/${processId}/batches`);
    request.setRequestHeader("Idempotency-Key", uploadKey);
    request.upload.onprogress = (e) => {
      if (e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
    };
    request.onload = () => {
      progress.value = 100;
      let report = {};
      try { report = JSON.parse(request.responseText); } catch (_) { report = {}; }
      const rows = table.querySelector("tbody");
      rows.innerHTML = "";
      for (const error of report.errors || []) {
        const row = rows.insertRow();
        for (const value of [error.row ?? "", error.field || "", error.message]) {
          row.insertCell().textContent = value;
        }
        row.cells[0].className = "num";
      }
      table.hidden = !(report.errors || []).length;
      if (request.status === 201 || request.status === 200) {  // 200: the same file, already in
        status.textContent = `${report.rows_accepted} of ${report.rows_total} rows handed over (${report.status.replace("_", " ")}). `;
        uploadKey = newKey();
      } else {
        status.textContent = (report.detail || `The file was refused (${request.status}).`) + " ";
      }
      const batch = report.id || report.batch_id;  // the refused file's report is kept too
      if (batch) {
        const link = document.createElement("a");
        link.href = `/console/portal/batches/${batch}`;
        link.textContent = "Open the file's page";
        status.append(link);
      }
    };
    request.onerror = () => { status.textContent = "The upload failed: check the connection."; };
    status.textContent = "Uploading…";
    progress.value = 0;
    request.send(data);
  });
}

// Parts of a page that follow something live reload themselves.
function refreshing() {
  for (const part of document.querySelectorAll("[data-refresh]")) {
    setInterval(async () => {
      const response = await fetch(part.dataset.refresh, { credentials: "same-origin" });
      if (response.ok) {
        part.innerHTML = await response.text();
        scrollableByKeyboard();
      }
    }, 5000);
  }
}

// A table wider than the screen scrolls in its own box: a keyboard reaches it (Tab, then the
// arrow keys), and a screen reader names it after its table's caption or its section.
function scrollableByKeyboard() {
  for (const box of document.querySelectorAll(".table-wrap")) {
    if (box.scrollWidth > box.clientWidth) {
      const caption = box.querySelector("caption");
      const heading = box.closest("section")?.querySelector("h2, h3");
      box.tabIndex = 0;
      box.setAttribute("role", "region");
      box.setAttribute("aria-label", (caption || heading)?.textContent.trim() || "Table");
    } else if (box.getAttribute("role") === "region") {
      box.removeAttribute("tabindex");
      box.removeAttribute("role");
      box.removeAttribute("aria-label");
    }
  }
}

// -- countdowns -----------------------------------------------------------------------------

function countdowns() {
  const clocks = document.querySelectorAll("[data-due]");
  if (!clocks.length) return;
  // The server's clock is the one SLAs run on: count from its time at render.
  const loaded = Date.now();
  const serverNow = Date.parse(document.body.dataset.now || "") || loaded;
  const tick = () => {
    const now = serverNow + (Date.now() - loaded);
    for (const clock of clocks) {
      const left = Math.round((Date.parse(clock.dataset.due) - now) / 1000);
      const span = Math.abs(left);
      const text = `${Math.floor(span / 3600)}h ${String(Math.floor((span % 3600) / 60)).padStart(2, "0")}m ${String(span % 60).padStart(2, "0")}s`;
      clock.textContent = left >= 0 ? `due in ${text}` : `overdue by ${text}`;
      clock.classList.toggle("late", left < 0);
      clock.classList.toggle("soon", left >= 0 && left < 900);
    }
  };
  tick();
  setInterval(tick, 1000);
}

document.addEventListener("DOMContentLoaded", () => {
  const signInForm = document.getElementById("sign-in");
  if (signInForm) signIn(signInForm);
  const bench = document.getElementById("workbench");
  if (bench) workbench(bench);
  const item = document.getElementById("leased-item");
  if (item) leasedItem(item);
  const handOverRoot = document.getElementById("hand-over");
  if (handOverRoot) handOver(handOverRoot);
  countdowns();
  refreshing();
  scrollableByKeyboard();
  window.addEventListener("resize", scrollableByKeyboard);
  for (const init of window.tandemPages || []) init({ api, toast, problemText, formValues, clearErrors, showErrors, keepLease });
});
