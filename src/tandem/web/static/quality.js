// Tandem console, quality pages (tandem.web.quality): a process's QA policy saved, an alert
// acknowledged. Both go through the public API (/api/v1) with the session cookie, where they
// are permissioned and audited. An error is shown at its field, in the units the page asks
// for (percent), and cleared as soon as the field is changed or the form sent again.
// Loaded after console.js, whose helpers arrive through the window.tandemPages hook.
"use strict";

(function () {
  function unmark(control) {
    const note = document.getElementById(`${control.id}-error`);
    if (note) note.remove();
    if (!control.hasAttribute("aria-invalid")) return;
    control.removeAttribute("aria-invalid");
    const hint = control.dataset.hint || "";
    if (hint) control.setAttribute("aria-describedby", hint);
    else control.removeAttribute("aria-describedby");
  }

  function mark(control, message) {
    unmark(control);
    const note = document.createElement("span");
    note.className = "field-error";
    note.id = `${control.id}-error`;
    note.textContent = message;
    if (control.tagName === "FIELDSET") control.append(note);
    else (control.closest("[data-error-after]") || control).insertAdjacentElement("afterend", note);
    if (!("hint" in control.dataset)) control.dataset.hint = control.getAttribute("aria-describedby") || "";
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [note.id, control.dataset.hint].filter(Boolean).join(" "));
  }

  // A percentage typed as the fraction the API takes: "1.5" as 0.015. What is not a number
  // goes as it was typed (empty as null), for the API to refuse at its field.
  function fraction(raw, per) {
    const text = raw.trim().replace(",", ".");
    if (text === "") return null;
    const number = Number(text);
    return Number.isFinite(number) ? Number((number / per).toPrecision(12)) : text;
  }

  function policyForm(form, h) {
    const processId = form.dataset.process;
    const general = document.getElementById("policy-error");
    const controls = {
      mode: document.getElementById("policy-mode"),
      aoql: form.elements.aoql,
      min_accuracy: form.elements.min_accuracy,
      gold_rate: form.elements.gold_rate,
    };
    const clearAll = () => {
      for (const control of Object.values(controls)) unmark(control);
      general.textContent = "";
    };
    // A field changed: its error is stale.
    form.addEventListener("input", (event) => {
      const control = event.target.type === "radio" ? controls.mode : event.target;
      unmark(control);
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearAll();
      const chosen = form.querySelector("input[name=mode]:checked");
      const body = {
        mode: chosen ? chosen.value : null,
        aoql: fraction(controls.aoql.value, 100),
        min_accuracy: fraction(controls.min_accuracy.value, 100),
        gold_rate: fraction(controls.gold_rate.value, 100),
      };
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;
      const result = await h.api("PUT", `/api/v1/processes/${processId}/quality-policy`, body);
      button.disabled = false;
      if (result.ok) {
        window.location.assign(`/console/qa/policies/${processId}?done=saved`);
        return;
      }
      const unplaced = [];
      let first = null;
      for (const error of (result.data && result.data.errors) || []) {
        const control = controls[String(error.field || "")];
        if (!control) { unplaced.push(error.message); continue; }
        // The API speaks in fractions (0.2); the page asks for percent: its own words.
        mark(control, control.dataset.message || error.message);
        first = first || control;
      }
      if (first) (first.tagName === "FIELDSET" ? first.querySelector("input") : first).focus();
      if (unplaced.length || !first) {
        general.textContent = unplaced.length ? unplaced.join("; ") : `Not saved: ${h.problemText(result)}`;
      }
    });
  }

  function alertList(root, h) {
    for (const button of root.querySelectorAll("[data-acknowledge]")) {
      button.addEventListener("click", async () => {
        const id = button.dataset.acknowledge;
        const error = root.querySelector(`[data-error-for="${CSS.escape(id)}"]`);
        error.textContent = "";
        button.disabled = true;
        const result = await h.api("POST", `/api/v1/quality/alerts/${id}/acknowledge`);
        if (result.ok) {
          window.location.assign("/console/qa/alerts?done=acknowledged");
          return;
        }
        button.disabled = false;
        error.textContent = `Not acknowledged: ${h.problemText(result)}`;
      });
    }
  }

  // Gold items: added typed or from a delivered item, retired or used again, through the
  // API. An error the API names at a field of the input or the result is shown at it.
  function goldPage(root, h) {
    const processId = root.dataset.process;
    const back = (done) => window.location.assign(
      `/console/qa/gold?process=${encodeURIComponent(processId)}&done=${done}`);
    const fromItem = document.getElementById("gold-from-item");
    if (fromItem && fromItem.elements.from_item_id) {
      const error = document.getElementById("gold-from-item-error");
      fromItem.addEventListener("submit", async (event) => {
        event.preventDefault();
        error.textContent = "";
        const button = fromItem.querySelector("button[type=submit]");
        button.disabled = true;
        const result = await h.api("POST", "/api/v1/quality/gold-items", {
          process_id: processId, from_item_id: fromItem.elements.from_item_id.value,
        });
        button.disabled = false;
        if (result.ok) { back("added"); return; }
        const messages = ((result.data && result.data.errors) || []).map((e) => e.message);
        error.textContent = `Not added: ${messages.length ? messages.join("; ") : h.problemText(result)}`;
      });
    }
    const typed = document.getElementById("gold-typed");
    const payload = document.getElementById("gold-payload");
    const answer = document.getElementById("gold-answer");
    if (typed && payload && answer) {
      const error = document.getElementById("gold-typed-error");
      typed.addEventListener("submit", async (event) => {
        event.preventDefault();
        h.clearErrors(typed);
        error.textContent = "";
        const button = typed.querySelector("button[type=submit]");
        button.disabled = true;
        const result = await h.api("POST", "/api/v1/quality/gold-items", {
          process_id: processId, payload: h.formValues(payload), answer: h.formValues(answer),
        });
        button.disabled = false;
        if (result.ok) { back("added"); return; }
        const errors = (result.data && result.data.errors) || [];
        const at = (prefix) => errors.filter((e) => String(e.field || "").startsWith(prefix));
        const unplaced = [
          ...h.showErrors(answer, at("answer."), "answer."),
          ...h.showErrors(payload, at("payload."), "payload."),
          ...errors.filter((e) => !/^(payload|answer)\./.test(String(e.field || ""))),
        ];
        if (unplaced.length || !errors.length) {
          error.textContent = `Not added: ${unplaced.length ? unplaced.map((e) => e.message).join("; ") : h.problemText(result)}`;
        }
      });
    }
    for (const button of document.querySelectorAll("[data-gold-id]")) {
      button.addEventListener("click", async () => {
        const id = button.dataset.goldId;
        const active = button.dataset.goldActive === "true";
        const error = document.querySelector(`[data-error-for="${CSS.escape(id)}"]`);
        error.textContent = "";
        button.disabled = true;
        const result = await h.api("PATCH", `/api/v1/quality/gold-items/${id}`, { active });
        if (result.ok) { back(active ? "restored" : "retired"); return; }
        button.disabled = false;
        error.textContent = `Not changed: ${h.problemText(result)}`;
      });
    }
  }

  (window.tandemPages = window.tandemPages || []).push((h) => {
    const form = document.getElementById("policy");
    if (form) policyForm(form, h);
    const alerts = document.getElementById("quality-alerts");
    if (alerts) alertList(alerts, h);
    const gold = document.getElementById("gold-add");
    if (gold) goldPage(gold, h);
  });
})();
