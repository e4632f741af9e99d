// Tandem console, custody pages (tandem.web.custody): the audit check, key rotation,
// retention with its purge, API keys. Every change goes through the public API (/api/v1)
// with the session cookie, after a confirmation step for what cannot be undone; an error is
// shown where it belongs and cleared as soon as the person tries again. Loaded after
// console.js, whose helpers arrive through the window.tandemPages hook.
"use strict";

(function () {
  // -- errors at the field, cleared on retry --------------------------------------------------

  function unmark(control) {
    const note = document.getElementById(`${control.id}-error`);
    if (note) note.remove();
    control.removeAttribute("aria-invalid");
    if ("hint" in control.dataset) {
      if (control.dataset.hint) control.setAttribute("aria-describedby", control.dataset.hint);
      else control.removeAttribute("aria-describedby");
    }
  }

  function mark(control, message, after) {
    unmark(control);
    const note = document.createElement("span");
    note.className = "field-error";
    note.id = `${control.id}-error`;
    note.textContent = message;
    (after || control).insertAdjacentElement("afterend", note);
    if (!("hint" in control.dataset)) control.dataset.hint = control.getAttribute("aria-describedby") || "";
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [note.id, control.dataset.hint].filter(Boolean).join(" "));
  }

  // Where a control's error note goes: at the end of its fieldset, or after the group it
  // sits in (the days and their unit), else right after it.
  function after(control) {
    if (control.tagName === "FIELDSET") return control.lastElementChild;
    return control.closest("[data-error-after]") || control;
  }

  function clearMarks(form) {
    for (const control of form.querySelectorAll("[aria-invalid]")) unmark(control);
  }

  // An error's field ("name", "permissions[1]", "days") to the control that shows it.
  function placeErrors(h, form, result, controls) {
    const errors = (result.data && result.data.errors) || [];
    const unplaced = [];
    let first = null;
    const texts = new Map();
    for (const error of errors) {
      const name = String(error.field || "").replace(/\[\d+\]$/, "");
      const control = controls[name];
      if (!control) { unplaced.push(error.message); continue; }
      texts.set(control, [...(texts.get(control) || []), error.message]);
    }
    for (const [control, messages] of texts) {
      mark(control, messages.join("; "), after(control));
      first = first || control;
    }
    if (first) (first.tagName === "FIELDSET" ? first.querySelector("input") : first).focus();
    if (unplaced.length) h.toast(unplaced.join("; "));
    else if (!errors.length) h.toast(h.problemText(result));
  }

  // -- a confirmation step: a modal dialog that runs the action and shows how it went -------

  // `run` returns null when done (the dialog closes) or a message, shown in the dialog until
  // the next attempt; the buttons wait while it runs.
  function confirmStep({ title, text, confirm, busy, danger, run, done }) {
    const dialog = document.createElement("dialog");
    dialog.className = "confirm";
    const id = `confirm-${Date.now()}`;
    dialog.setAttribute("aria-labelledby", `${id}-title`);
    dialog.setAttribute("aria-describedby", `${id}-text`);
    const heading = document.createElement("h2");
    heading.id = `${id}-title`;
    heading.textContent = title;
    const body = document.createElement("p");
    body.id = `${id}-text`;
    body.textContent = text;
    const error = document.createElement("p");
    error.className = "error";
    error.setAttribute("role", "alert");
    const actions = document.createElement("div");
    actions.className = "actions";
    const go = document.createElement("button");
    go.type = "button";
    go.className = danger ? "danger" : "primary";
    go.textContent = confirm;
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    actions.append(go, cancel);
    dialog.append(heading, body, error, actions);
    document.body.append(dialog);
    const opener = document.activeElement;
    dialog.addEventListener("close", () => {
      dialog.remove();
      if (opener && opener.isConnected) opener.focus();  // cancelled, or still there
    });
    cancel.addEventListener("click", () => dialog.close());
    go.addEventListener("click", async () => {
      error.textContent = "";  // a stale message goes as soon as the person tries again
      go.disabled = cancel.disabled = true;
      go.textContent = busy;
      dialog.setAttribute("aria-busy", "true");
      let message;
      try { message = await run(); } catch (_) { message = "The server could not be reached: check the connection and try again."; }
      dialog.removeAttribute("aria-busy");
      go.disabled = cancel.disabled = false;
      go.textContent = confirm;
      if (message) { error.textContent = message; go.focus(); return; }
      dialog.close();
      if (done) done();
    });
    dialog.showModal();
    cancel.focus();  // the safe choice first
  }

  async function redraw(part, url) {
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.ok) part.innerHTML = await response.text();
    return response.ok;
  }

  // What a refused or failed action says in its dialog: what did not happen, and why.
  function failed(what, result) {
    const why = String((result.data && (result.data.detail || result.data.title)) || `error ${result.status}`);
    return `${what}: ${why.replace(/\.$/, "")}.`;
  }

  const plural = (count, one, many) => `${count.toLocaleString("en")} ${count === 1 ? one : many}`;

  // -- the audit check ------------------------------------------------------------------------

  function auditPage(root) {
    const form = root.querySelector("#audit-check");
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      button.textContent = "Checking…";
      form.setAttribute("aria-busy", "true");
    });
    const result = root.querySelector("#check-result");
    if (result) result.focus();
  }

  // -- encryption keys --------------------------------------------------------------------------

  function keysPage(root, h) {
    const part = root.querySelector("#key-status");
    const status = root.querySelector("#rotate-result");
    let polling = null;
    // While a rotation re-seals, its progress is redrawn every few seconds.
    const follow = () => {
      if (polling || !part.querySelector("[data-busy]")) return;
      polling = setInterval(async () => {
        await redraw(part, "/console/admin/keys/status");
        if (part.querySelector("[data-busy]")) return;
        clearInterval(polling);
        polling = null;
        status.textContent = "";  // "being re-sealed" is stale: the table says it is done
      }, 3000);
    };
    follow();
    part.addEventListener("click", (event) => {
      const button = event.target.closest("[data-rotate]");
      if (!button) return;
      const row = button.closest("tr");
      const name = row.dataset.name;
      const next = Number(row.dataset.version) + 1;
      status.textContent = "";  // a message of an earlier rotation is stale now
      confirmStep({
        title: `Rotate the key of ${name}?`,
        text: `From now on, ${name}'s new personal data is sealed under key version ${next}. What was sealed before is re-sealed in the background and stays readable meanwhile. The rotation is audited and cannot be undone.`,
        confirm: "Rotate the key",
        busy: "Rotating…",
        run: async () => {
          const result = await h.api("POST", `/api/v1/clients/${row.dataset.client}/key-rotations`);
          if (!result.ok) return failed("The key was not rotated", result);
          await redraw(part, "/console/admin/keys/status");
          follow();
          return null;
        },
        done: () => {  // said once the dialog is gone and the table shows it
          status.textContent = `The key of ${name} is now version ${next}. Older values are being re-sealed in the background: follow it below.`;
          status.focus();
        },
      });
    });
  }

  // -- retention ----------------------------------------------------------------------------------

  function retentionPage(root, h) {
    const clientId = root.dataset.client;
    const name = root.dataset.name;
    const form = root.querySelector("#retention-form");
    if (form) {
      const days = form.elements.namedItem("days");
      const keepDays = form.querySelector("input[name=keep][value=days]");
      days.addEventListener("input", () => { keepDays.checked = true; unmark(days); });
      for (const radio of form.querySelectorAll("input[name=keep]")) {
        radio.addEventListener("change", () => unmark(days));
      }
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearMarks(form);
        const keep = form.querySelector("input[name=keep]:checked");
        let body = { days: null };
        if (keep && keep.value === "days") {
          const raw = days.value.trim();
          const number = /^\d+$/.test(raw) ? Number(raw) : NaN;
          if (!(number >= 1 && number <= 36500)) {
            mark(days, "Give a whole number of days, from 1 to 36,500.", after(days));
            days.focus();
            return;
          }
          body = { days: Number(raw) };
        }
        const result = await h.api("PUT", `/api/v1/clients/${clientId}/retention`, body);
        if (result.ok) {
          window.location.assign(`/console/admin/retention?client=${clientId}&saved=1`);
          return;
        }
        placeErrors(h, form, result, { days });
      });
    }

    const part = root.querySelector("#retention-parts");
    const status = root.querySelector("#purge-result");
    if (!part) return;
    part.addEventListener("click", (event) => {
      const button = event.target.closest("[data-purge]");
      if (!button) return;
      const items = Number(button.dataset.items);
      let said = "";
      status.textContent = "";
      confirmStep({
        title: `Purge ${name}'s personal data now?`,
        text: `The personal fields of ${plural(items, "item", "items")} done before ${button.dataset.when} are emptied, and their documents and copies deleted. This cannot be undone. States, times and quality scores stay.`,
        confirm: `Purge ${plural(items, "item", "items")}`,
        busy: "Purging…",
        danger: true,
        run: async () => {
          const result = await h.api("POST", `/api/v1/clients/${clientId}/purges`, { cutoff: button.dataset.cutoff });
          if (!result.ok) return failed("Nothing was purged", result);
          for (const note of root.querySelectorAll("[data-saved]")) note.remove();  // stale now
          const done = result.data.report ? result.data.report.counts.work_items : 0;
          const more = result.data.remaining;
          said = `Purged the personal data of ${plural(done, "item", "items")}.`
            + (more ? ` ${plural(more, "item is", "items are")} still due: purge again, or the worker goes on at its next pass.` : "");
          await redraw(part, `/console/admin/retention/parts?client=${clientId}`);
          return null;
        },
        done: () => {  // said once the dialog is gone and the preview redrawn
          status.textContent = said;
          status.focus();
        },
      });
    });
  }

  // -- API keys -------------------------------------------------------------------------------

  function apiKeysPage(root, h) {
    const list = root.querySelector("#api-keys-list");
    const form = root.querySelector("#add-key");
    const secret = root.querySelector("#new-key");
    const value = secret.querySelector("#new-key-value");
    const copied = secret.querySelector("[data-copied]");
    const controls = {
      name: form.elements.namedItem("name"),
      client_id: form.elements.namedItem("client_id"),
      permissions: form.querySelector("#key-permissions"),
    };
    for (const control of Object.values(controls)) {
      if (control) control.addEventListener("input", () => unmark(control));
      if (control) control.addEventListener("change", () => unmark(control));
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearMarks(form);
      const body = {
        name: controls.name.value.trim(),
        permissions: [...form.querySelectorAll("input[name=permissions]:checked")].map((box) => box.value),
      };
      if (controls.client_id && controls.client_id.value) body.client_id = Number(controls.client_id.value);
      // What the browser can tell at once, said in words; the server checks the rest.
      const missing = [
        [controls.name, !body.name, "Give the key a name: which system uses it."],
        [controls.client_id, controls.client_id && !controls.client_id.value, "Choose the client whose key it is."],
        [controls.permissions, !body.permissions.length, "Choose at least one thing the key may do."],
      ].filter(([control, wrong]) => control && wrong);
      if (missing.length) {
        for (const [control, , message] of missing) mark(control, message, after(control));
        const first = missing[0][0];
        (first.tagName === "FIELDSET" ? first.querySelector("input") : first).focus();
        return;
      }
      const result = await h.api("POST", "/api/v1/api-keys", body);
      if (!result.ok) { placeErrors(h, form, result, controls); return; }
      secret.querySelector("[data-key-name]").textContent = result.data.name;
      value.value = result.data.key;
      copied.textContent = "";
      secret.hidden = false;
      form.reset();
      await redraw(list, "/console/admin/api-keys/table");
      secret.focus();
    });

    secret.querySelector("[data-copy]").addEventListener("click", async () => {
      copied.textContent = "";
      try {
        await navigator.clipboard.writeText(value.value);
        copied.textContent = "Copied to the clipboard.";
      } catch (_) {
        value.focus();
        value.select();
        copied.textContent = document.execCommand && document.execCommand("copy")
          ? "Copied to the clipboard."
          : "The browser would not copy it: the key is selected, copy it with Ctrl+C (⌘C).";
      }
    });
    secret.querySelector("[data-done]").addEventListener("click", () => {
      value.value = "";  // the secret leaves the page
      secret.hidden = true;
      controls.name.focus();
    });

    list.addEventListener("click", (event) => {
      const button = event.target.closest("[data-revoke]");
      if (!button) return;
      const row = button.closest("tr");
      const keyName = row.dataset.name;
      confirmStep({
        title: `Revoke the key “${keyName}”?`,
        text: "Systems using it are refused from their next request. This cannot be undone: a new key can be made instead.",
        confirm: "Revoke the key",
        busy: "Revoking…",
        danger: true,
        run: async () => {
          const result = await h.api("DELETE", `/api/v1/api-keys/${row.dataset.key}`);
          if (!result.ok) return failed("The key was not revoked", result);
          await redraw(list, "/console/admin/api-keys/table");
          h.toast(`Revoked the key “${keyName}”.`);
          return null;
        },
        done: () => {
          const heading = root.querySelector("#api-keys-title");
          heading.tabIndex = -1;
          heading.focus();
        },
      });
    });
  }

  (window.tandemPages = window.tandemPages || []).push((h) => {
    const audit = document.getElementById("audit-trail");
    if (audit) auditPage(audit);
    const keys = document.getElementById("encryption-keys");
    if (keys) keysPage(keys, h);
    const retention = document.getElementById("retention");
    if (retention && retention.dataset.client) retentionPage(retention, h);
    const apiKeys = document.getElementById("api-keys");
    if (apiKeys) apiKeysPage(apiKeys, h);
  });
})();
