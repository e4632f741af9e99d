// Tandem console, a brand's macros (tandem.web.macros): the editor saves a macro through the
// API (/api/v1/brands/{id}/macros, /api/v1/macros/{id}) and deletes it; errors naming a field
// (an unknown variable in the text, a title the brand has already) are shown at it. Loaded
// after console.js, whose helpers arrive through the window.tandemPages hook.
"use strict";

(function () {
  function editor(root, tools) {
    const brand = root.dataset.brand;
    const macro = root.dataset.macro;
    const form = root.querySelector("form.kb-editor");
    const page = (id) => `/console/macros/${brand}?macro=${id}`;

    function failed(result) {
      const rest = tools.showErrors(form, result.data && result.data.errors);
      tools.toast(rest.length ? rest.map((e) => `${e.field}: ${e.message}`).join("; ") : tools.problemText(result));
    }
    for (const control of form.querySelectorAll("input, textarea, select")) {
      control.addEventListener("input", () => tools.clearErrors(form));
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      tools.clearErrors(form);
      const body = {
        title: form.title.value.trim(),
        body: form.body.value,
        add_tags: form.add_tags.value.split(",").map((t) => t.trim()).filter(Boolean),
        then: form.then.value || null,
        priority: form.priority.value === "" ? null : Number(form.priority.value),
      };
      const missing = [];
      if (!body.title) missing.push({ field: "title", message: "Give the macro a title." });
      if (!body.body.trim()) missing.push({ field: "body", message: "Write its text." });
      if (missing.length) { tools.showErrors(form, missing); return; }
      const result = macro
        ? await tools.api("PUT", `/api/v1/macros/${macro}`, body)
        : await tools.api("POST", `/api/v1/brands/${brand}/macros`, body);
      if (result.ok) window.location.assign(page(result.data.id) + "&saved=1");
      else failed(result);
    });

    const remove = form.querySelector("[data-action=delete]");
    if (remove) {
      remove.addEventListener("click", async () => {
        if (!window.confirm("Delete this macro? Agents no longer see it.")) return;
        const result = await tools.api("DELETE", `/api/v1/macros/${macro}`);
        if (result.ok || result.status === 204) window.location.assign(`/console/macros/${brand}`);
        else failed(result);
      });
    }
    if (new URLSearchParams(window.location.search).has("saved")) tools.toast("Saved.");
  }

  (window.tandemPages = window.tandemPages || []).push((tools) => {
    const root = document.getElementById("macros");
    if (root) editor(root, tools);
  });
})();
