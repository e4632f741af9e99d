// Tandem desks: the analyst's referrals and the QA desk (tandem.web.desks). Every action is
// an API call with the session cookie; the API's errors are shown at the field they name.
"use strict";

(function () {
  // Show each error at its control (or radio group's fieldset) as `locate` finds it;
  // returns the errors nothing on the page could take.
  function showAt(errors, locate) {
    const rest = [];
    let first = null;
    for (const error of errors || []) {
      const target = locate(error.field || "");
      if (!target) { rest.push(error); continue; }
      const group = target.matches("fieldset");
      const controls = group ? [...target.querySelectorAll("input, select, textarea")] : [target];
      const note = document.createElement("span");
      note.className = "field-error";
      note.id = `${target.id}-error`;
      note.textContent = error.message;
      for (const control of controls) {
        control.setAttribute("aria-invalid", "true");
        control.setAttribute("aria-describedby", note.id);
      }
      if (group) target.append(note); else target.insertAdjacentElement("afterend", note);
      first = first || controls[0];
    }
    if (first) first.focus();
    return rest;
  }

  function report(tools, rest, result) {
    const errors = (result.data && result.data.errors) || [];
    if (rest.length) tools.toast(rest.map((e) => `${e.field}: ${e.message}`).join("; "));
    else if (errors.length) tools.toast(`${tools.problemText(result)}: see the marked fields.`);
    else tools.toast(tools.problemText(result));
  }

  // An error shown at a control goes once the control is changed.
  function forget(control) {
    const note = document.getElementById(`${control.id}-error`);
    if (note) note.remove();
    control.removeAttribute("aria-invalid");
    control.removeAttribute("aria-describedby");
  }

  // The field an error names, without its prefix: "values.amount" -> "amount".
  function unprefixed(field, prefix) {
    return field.startsWith(prefix) ? field.slice(prefix.length) : null;
  }

  function named(root, name) {
    return name ? root.querySelector(`[name="${CSS.escape(name)}"]`) : null;
  }

  // -- the analyst's desk ------------------------------------------------------------------

  async function nextReferral(tools) {
    const result = await tools.api("POST", "/api/v1/dispatch/claim");
    if (result.status === 204) { tools.toast("Nothing to judge in your queues right now."); return; }
    if (!result.ok) { tools.toast(tools.problemText(result)); return; }
    window.location.assign(`/console/referrals/${result.data.item_id}`);
  }

  function referralDesk(root, tools) {
    root.querySelector("[data-action=next-referral]").addEventListener("click", () => nextReferral(tools));
    document.addEventListener("keydown", (event) => {
      const typing = event.target.closest("input, textarea, select");
      if (!typing && event.key === "n" && !event.ctrlKey && !event.metaKey && !event.altKey) {
        event.preventDefault();
        nextReferral(tools);
      }
    });
    for (const card of root.querySelectorAll(".confirmation")) {
      const form = card.querySelector("form");
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        tools.clearErrors(form);
        const agree = (event.submitter && event.submitter.value) === "true";
        const notes = form.notes.value.trim();
        for (const button of form.querySelectorAll("button")) button.disabled = true;
        const result = await tools.api("POST", `/api/v1/decisions/confirmations/${card.dataset.item}`, {
          agree, notes: notes || null,
        });
        if (result.ok) {
          window.location.assign(`/console/referrals?done=${agree ? "confirmed" : "sent_back"}`);
          return;
        }
        for (const button of form.querySelectorAll("button")) button.disabled = false;
        report(tools, showAt(result.data && result.data.errors, (field) => named(form, field)), result);
      });
    }
  }

  function referral(root, tools) {
    const itemId = root.dataset.item;
    const attempt = Number(root.dataset.attempt);
    const form = root.querySelector("form.judgment");
    const status = root.querySelector(".lease-status");
    // The lease is kept alive while the page is open, as on the workbench.
    const every = Math.max(5, Number(root.dataset.leaseSeconds) / 3) * 1000;
    const beat = setInterval(async () => {
      const result = await tools.api("POST", `/api/v1/leases/${itemId}/heartbeat`, { attempt });
      if (!result.ok) {
        clearInterval(beat);
        status.textContent = "This referral is no longer yours: the lease was lost.";
        status.classList.add("bad");
        for (const button of root.querySelectorAll("button")) button.disabled = true;
      }
    }, every);

    const locate = (field) => (field === "outcome" ? root.querySelector("#judgment-outcome") : named(form, field));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      tools.clearErrors(form);
      const outcome = form.querySelector("input[name=outcome]:checked");
      const notes = form.notes.value.trim();
      const body = { attempt, reason: form.reason.value.trim(), notes: notes || null };
      if (outcome) body.outcome = outcome.value;
      const result = await tools.api("POST", `/api/v1/leases/${itemId}/judgment`, body);
      if (result.ok) {
        clearInterval(beat);
        window.location.assign(`/console/referrals?done=${encodeURIComponent(result.data.state)}`);
        return;
      }
      report(tools, showAt(result.data && result.data.errors, locate), result);
    });

    root.querySelector("[data-action=release]").addEventListener("click", async () => {
      const result = await tools.api("POST", `/api/v1/leases/${itemId}/release`, { attempt });
      if (result.ok || result.status === 204) {
        clearInterval(beat);
        window.location.assign("/console/referrals");
      } else {
        tools.toast(tools.problemText(result));
      }
    });

    for (const button of root.querySelectorAll("[data-reveal]")) {
      button.addEventListener("click", async () => {
        const reason = window.prompt("Why does this judgment need the value? (recorded)");
        if (!reason) return;
        const field = button.dataset.reveal;
        const result = await tools.api("POST", `/api/v1/leases/${itemId}/reveal`, { fields: [field], reason });
        if (!result.ok) { tools.toast(tools.problemText(result)); return; }
        const value = root.querySelector(`[data-field="${CSS.escape(field)}"]`);
        value.textContent = String(result.data[field]);
        value.classList.remove("masked");
        button.remove();
      });
    }
  }

  // -- the QA desk -------------------------------------------------------------------------

  // How a desk shows a value (desk_macros.html's `shown`).
  function shownText(value) {
    if (value === null || value === undefined) return "(blank)";
    if (value === true) return "yes";
    if (value === false) return "no";
    if (Array.isArray(value)) return value.join(", ");
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  // A masked value revealed for a reason the reviewer gives: the API records the reveal in
  // the audit trail before it answers; the value then shows wherever the page shows it.
  function reveals(root, tools) {
    const itemId = root.dataset.item;
    for (const button of root.querySelectorAll("[data-reveal]")) {
      button.addEventListener("click", async () => {
        const what = button.getAttribute("aria-label").replace(/^Reveal /, "");
        const reason = window.prompt(`Why do you need to see ${what}? (recorded in the audit trail)`);
        if (!reason || !reason.trim()) return;
        const field = button.dataset.reveal;
        const of = button.dataset.of;
        const result = await tools.api("POST", `/api/v1/quality/reviews/${itemId}/reveal`, {
          of, fields: [field], reason: reason.trim(),
        });
        if (!result.ok) { report(tools, (result.data && result.data.errors) || [], result); return; }
        for (const value of root.querySelectorAll(`[data-shows="${CSS.escape(`${of}.${field}`)}"]`)) {
          value.textContent = `${shownText(result.data[field])} `;
          const note = document.createElement("span");
          note.className = "hint";
          note.textContent = "(revealed)";
          value.append(note);
        }
        button.remove();
        tools.toast(`Revealed ${what}: the reveal is recorded.`);
      });
    }
  }

  function review(root, tools) {
    const itemId = root.dataset.item;
    reveals(root, tools);
    const form = root.querySelector("form.review-form");
    const corrected = root.querySelector("#corrected");
    const reworkTo = root.querySelector("#rework-to");

    // A failed check asks for its error category.
    for (const box of form.querySelectorAll("[data-passed]")) {
      const category = box.closest("tr").querySelector(".category");
      box.addEventListener("change", () => {
        category.hidden = box.checked;
        if (!box.checked) category.querySelector("select").focus();
      });
    }
    const verdict = () => form.querySelector("input[name=verdict]:checked").value;
    const follow = () => {
      corrected.hidden = verdict() !== "correct";
      reworkTo.hidden = verdict() !== "rework";
    };
    for (const radio of form.querySelectorAll("input[name=verdict]")) radio.addEventListener("change", follow);
    follow();

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      tools.clearErrors(form);
      const failed = [...form.querySelectorAll("[data-passed]")].filter((box) => !box.checked);
      const failures = failed.map((box) => ({
        name: box.dataset.passed,
        category: box.closest("tr").querySelector("[data-category]").value,
      }));
      const body = { failures, verdict: verdict(), reason: form.reason.value.trim() || null };
      if (body.verdict === "correct") body.corrected = tools.formValues(corrected);
      if (body.verdict === "rework") body.rework_to = form.querySelector("input[name=rework_to]:checked").value;
      const result = await tools.api("POST", `/api/v1/quality/reviews/${itemId}`, body);
      if (result.ok) {
        const done = { deliver: "delivered", correct: "corrected", rework: "rework" }[body.verdict];
        window.location.assign(`/console/quality?done=${done}`);
        return;
      }
      const locate = (field) => {
        // failures[0].category (the service) or failures.0.category (the request's shape)
        const failure = /^failures(?:\[(\d+)\]|\.(\d+))\.(name|category)$/.exec(field);
        if (failure) {
          const box = failed[Number(failure[1] ?? failure[2])];
          if (!box) return null;
          return failure[3] === "category" ? box.closest("tr").querySelector("[data-category]") : box;
        }
        const fix = unprefixed(field, "corrected.");
        if (fix !== null) return named(corrected, fix);
        if (field === "corrected") return corrected.querySelector("[data-kind]");
        if (field === "verdict") return root.querySelector("#verdict");
        if (field === "rework_to") return reworkTo;
        if (field === "reason") return form.reason;
        return null;
      };
      report(tools, showAt(result.data && result.data.errors, locate), result);
    });
  }

  // A choice of a keying's value, for a personal field (shown masked): the browser sends
  // the choice, {take: "a"} or {take: "b"}, and the server takes the value in clear.
  function takeChoices(form) {
    const groups = [...form.querySelectorAll("fieldset[data-take]")];
    for (const group of groups) {
      const control = group.querySelector("[data-kind]");
      const typed = group.querySelector("input[type=radio][value='']");
      const settle = () => {
        const note = document.getElementById(`${group.id}-error`);
        if (note) note.remove();
        for (const input of group.querySelectorAll("[aria-invalid]")) {
          input.removeAttribute("aria-invalid");
          input.removeAttribute("aria-describedby");
        }
      };
      for (const radio of group.querySelectorAll("input[type=radio]")) {
        radio.addEventListener("change", () => {
          settle();
          if (radio === typed) control.focus();
        });
      }
      // Typing a value is choosing to type it.
      for (const event of ["input", "change"]) {
        control.addEventListener(event, () => { typed.checked = true; settle(); });
      }
    }
    return (values) => {
      for (const group of groups) {
        const name = group.dataset.take;
        const chosen = group.querySelector("input[type=radio]:checked");
        if (chosen && chosen.value) values[name] = { take: chosen.value };
        else if (!chosen) delete values[name];
      }
      return values;
    };
  }

  function adjudication(root, tools) {
    const itemId = root.dataset.item;
    const form = root.querySelector("form.adjudication-form");
    reveals(root, tools);
    const withChoices = takeChoices(form);
    for (const button of form.querySelectorAll("[data-use]")) {
      button.addEventListener("click", () => {
        const control = form.querySelector(`[data-kind][name="${CSS.escape(button.dataset.use)}"]`);
        const value = JSON.parse(button.dataset.value);
        if (control.dataset.kind === "checkbox") control.checked = Boolean(value);
        else control.value = value === null || value === undefined ? "" : String(value);
        forget(control);
        control.focus();
        tools.toast(`${button.getAttribute("aria-label").replace(/^Use/, "Using")}.`);
      });
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      tools.clearErrors(form);
      const result = await tools.api("POST", `/api/v1/quality/adjudications/${itemId}`, {
        values: withChoices(tools.formValues(form)),
      });
      if (result.ok) {
        window.location.assign("/console/quality?done=adjudicated");
        return;
      }
      const locate = (field) => {
        const name = unprefixed(field, "values.");
        if (name === null) return null;
        return form.querySelector(`fieldset[data-take="${CSS.escape(name)}"]`)
          || form.querySelector(`[data-kind][name="${CSS.escape(name)}"]`);
      };
      report(tools, showAt(result.data && result.data.errors, locate), result);
    });
  }

  const pages = { "referral-desk": referralDesk, referral, review, adjudication };
  (window.tandemPages = window.tandemPages || []).push((tools) => {
    for (const [id, init] of Object.entries(pages)) {
      const root = document.getElementById(id);
      if (root) init(root, tools);
    }
  });
})();
