// Tandem portal: a delivered result sent back to be redone (tandem.web.portal's item page).
// The form calls the API (POST /api/v1/work-items/{id}/reject) with the session cookie, as
// every console action does; the API's errors are shown at the field they name.
"use strict";

(function () {
  function reject(form, tools) {
    const itemId = form.dataset.item;
    const fieldset = document.getElementById("reject-fields");
    // An error of the fields named goes at their group, as a reason's at its box.
    const locate = (field) => {
      if (field === "reason") return form.reason;
      if (field === "fields" || field.startsWith("fields.")) return fieldset;
      return null;
    };
    function show(errors) {
      const rest = [];
      let first = null;
      for (const error of errors || []) {
        const target = locate(error.field || "");
        if (!target) { rest.push(error); continue; }
        const note = document.createElement("span");
        note.className = "field-error";
        note.id = `${target.id}-error`;
        note.textContent = error.message;
        const controls = target.matches("fieldset") ? [...target.querySelectorAll("input")] : [target];
        for (const control of controls) {
          control.setAttribute("aria-invalid", "true");
          control.setAttribute("aria-describedby", note.id);
        }
        if (target.matches("fieldset")) target.append(note); else target.insertAdjacentElement("afterend", note);
        first = first || controls[0];
      }
      if (first) first.focus();
      return rest;
    }

    // An error shown at a control goes once the control is changed.
    form.addEventListener("input", (event) => {
      const target = event.target.closest("fieldset") || event.target;
      const note = document.getElementById(`${target.id}-error`);
      if (note) note.remove();
      for (const control of target.matches("fieldset") ? target.querySelectorAll("input") : [target]) {
        control.removeAttribute("aria-invalid");
        control.removeAttribute("aria-describedby");
      }
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      tools.clearErrors(form);
      const reason = form.reason.value.trim();
      if (!reason) {
        show([{ field: "reason", message: "Say what is wrong with the result: the reason is required." }]);
        return;
      }
      const fields = [...form.querySelectorAll('input[name="fields"]:checked')].map((box) => box.value);
      const button = form.querySelector("button[type=submit]");
      button.disabled = true;  // one rejection: a second click would find it no longer delivered
      const result = await tools.api("POST", `/api/v1/work-items/${itemId}/reject`, { reason, fields });
      if (result.ok) {
        window.location.assign(`/console/portal/items/${itemId}?done=rejected`);
        return;
      }
      button.disabled = false;
      const errors = (result.data && result.data.errors) || [];
      const rest = show(errors);
      if (rest.length) tools.toast(rest.map((e) => `${e.field}: ${e.message}`).join("; "));
      else if (errors.length) tools.toast("The result was not sent back: see the marked fields.");
      else tools.toast(tools.problemText(result));
    });
  }

  (window.tandemPages = window.tandemPages || []).push((tools) => {
    const form = document.getElementById("reject");
    if (form) reject(form, tools);
  });
})();
