// Tandem console, work items for the provider's staff (tandem.web.items): the actions of an
// item's page, and one action on a selection of the list. Each calls the API
// (/api/v1/work-items/...) with the session cookie, where it is permissioned and audited;
// errors naming a field are shown at it. Loaded after console.js, whose helpers arrive
// through the window.tandemPages hook.
"use strict";

(function () {
  // -- one item --------------------------------------------------------------------------

  const CALLS = {
    hold: (form) => ["hold", { reason: form.reason.value.trim() }],
    resume: () => ["resume", undefined],
    priority: (form) => ["priority", { priority: Number(form.priority.value) }],
    release: (form) => ["release", optionalReason(form, {})],
    assign: (form) => ["reassign", optionalReason(form, { agent_id: form.agent_id.value })],
    reroute: (form) => ["reassign", optionalReason(form, { routing_key: form.routing_key.value })],
    cancel: (form) => ["cancel", { reason: form.reason.value.trim() }],
  };

  function optionalReason(form, body) {
    const reason = form.reason && form.reason.value.trim();
    if (reason) body.reason = reason;
    return body;
  }

  // What must be filled before anything is sent, by the control's name.
  function missing(form) {
    const errors = [];
    for (const control of form.querySelectorAll("[required]")) {
      if (!control.value.trim()) {
        const what = control.tagName === "SELECT" ? "Choose one." : "Required: say why.";
        errors.push({ field: control.name, message: what });
      }
    }
    return errors;
  }

  function itemActions(root, tools) {
    const itemId = root.dataset.item;
    for (const form of root.querySelectorAll("form[data-action]")) {
      const action = form.dataset.action;
      form.addEventListener("input", () => tools.clearErrors(form));
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        tools.clearErrors(form);
        const empty = missing(form);
        if (empty.length) { tools.showErrors(form, empty); return; }
        const [path, body] = CALLS[action](form);
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        const result = await tools.api("POST", `/api/v1/work-items/${itemId}/${path}`, body);
        if (result.ok) {
          window.location.assign(`/console/items/${itemId}?done=${action}`);
          return;
        }
        button.disabled = false;
        const errors = (result.data && result.data.errors) || [];
        const rest = tools.showErrors(form, errors);
        if (rest.length) tools.toast(rest.map((e) => `${e.field}: ${e.message}`).join("; "));
        else if (!errors.length) tools.toast(tools.problemText(result));
      });
    }
  }

  // -- a selection of the list -------------------------------------------------------------

  const LABELS = {
    received: "Received", queued: "Queued", leased: "Being worked", submitted: "Submitted",
    in_review: "In review", rework: "Being redone", waiting: "On hold", delivered: "Delivered",
    cancelled: "Cancelled",
  };

  function bulk(form, tools) {
    const table = document.getElementById("items");
    const boxes = () => [...table.querySelectorAll('input[name="item"]')];
    const picked = () => boxes().filter((box) => box.checked);
    const all = document.getElementById("pick-all");
    const count = document.getElementById("bulk-count");
    const button = form.querySelector("button[type=submit]");
    const report = document.getElementById("bulk-report");
    const chosen = form.querySelector('[name="action"]');  // (not form.action: the form's own address by name)

    function counted() {
      const n = picked().length;
      count.textContent = n ? `${n} selected.` : "None selected: tick the items below.";
      button.disabled = n === 0;
      button.textContent = n ? `Apply to ${n} item${n === 1 ? "" : "s"}` : "Apply";
      all.checked = n > 0 && n === boxes().length;
      all.indeterminate = n > 0 && n < boxes().length;
    }

    function shown() {
      const action = chosen.value;
      for (const part of form.querySelectorAll("[data-for]")) {
        part.hidden = !part.dataset.for.split(" ").includes(action);
      }
      const required = action === "hold" || action === "cancel";
      form.querySelector("[data-required]").hidden = !required;
      form.reason.required = required;
      form.priority.required = action === "priority";
      tools.clearErrors(form);
    }

    all.addEventListener("change", () => {
      for (const box of boxes()) box.checked = all.checked;
      counted();
    });
    table.addEventListener("change", (event) => { if (event.target.name === "item") counted(); });
    chosen.addEventListener("change", shown);
    form.addEventListener("input", (event) => { if (event.target !== chosen) tools.clearErrors(form); });
    shown();
    counted();

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      tools.clearErrors(form);
      const ids = picked().map((box) => box.value);
      if (!ids.length) { tools.toast("Tick the items to act on first."); return; }
      const empty = missing(form);
      if (empty.length) { tools.showErrors(form, empty); return; }
      const body = { ids, action: chosen.value };
      const reason = form.reason.value.trim();
      if (reason && !form.reason.closest("[data-for]").hidden) body.reason = reason;
      if (body.action === "priority") body.priority = Number(form.priority.value);
      button.disabled = true;
      button.textContent = `Working on ${ids.length}…`;
      const result = await tools.api("POST", "/api/v1/work-items/bulk", body);
      counted();
      if (!result.ok) {
        const rest = tools.showErrors(form, (result.data && result.data.errors) || []);
        if (rest.length || !(result.data && result.data.errors)) {
          tools.toast(rest.length ? rest.map((e) => `${e.field}: ${e.message}`).join("; ") : tools.problemText(result));
        }
        return;
      }
      show(result.data, body);
    });

    function show(outcome, body) {
      const rows = report.querySelector("tbody");
      rows.innerHTML = "";
      for (const item of outcome.items) {
        const line = table.querySelector(`tr[data-item="${CSS.escape(item.id)}"]`);
        const row = rows.insertRow();
        const link = document.createElement("a");
        link.href = `/console/items/${item.id}`;
        link.textContent = line ? line.dataset.name : item.id;
        row.insertCell().append(link);
        const done = item.outcome === "done";
        const mark = row.insertCell();
        mark.textContent = done ? "Done" : "Refused";
        mark.className = done ? "good" : "bad";
        row.insertCell().textContent = item.detail;
        row.dataset.outcome = item.outcome;
        if (done && line) {
          const state = line.querySelector("[data-state]");
          state.dataset.state = item.state;
          state.textContent = LABELS[item.state] || item.state;
          if (body.action === "priority") line.querySelector("[data-priority]").textContent = String(body.priority);
          line.querySelector('input[name="item"]').checked = false;
        }
      }
      const title = document.getElementById("bulk-report-title");
      title.textContent = `${outcome.done} done, ${outcome.refused} refused`;
      document.getElementById("bulk-report-hint").hidden = !outcome.refused;
      report.hidden = false;
      report.focus();
      counted();
    }
  }

  (window.tandemPages = window.tandemPages || []).push((tools) => {
    const actions = document.getElementById("actions");
    if (actions) itemActions(actions, tools);
    const selection = document.getElementById("bulk");
    if (selection && document.getElementById("items")) bulk(selection, tools);
  });
})();
