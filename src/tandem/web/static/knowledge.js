// Tandem console, a brand's knowledge base (tandem.web.knowledge): the editor saves an
// article through the API (/api/v1/brands/{id}/articles), previews its Markdown as the help
// center shows it (the server renders and sanitizes it), publishes, unpublishes and deletes.
// Errors naming a field are shown at it. Loaded after console.js, whose helpers arrive
// through the window.tandemPages hook.
"use strict";

(function () {
  function editor(root, tools) {
    const brand = root.dataset.brand;
    const article = root.dataset.article;
    const form = root.querySelector("form.kb-editor");
    const preview = document.getElementById("kb-preview");
    const base = `/api/v1/brands/${brand}/articles`;
    const page = (id) => `/console/knowledge/${brand}?article=${id}`;

    function failed(result) {
      const rest = tools.showErrors(form, result.data && result.data.errors);
      tools.toast(rest.length ? rest.map((e) => `${e.field}: ${e.message}`).join("; ") : tools.problemText(result));
    }
    for (const control of form.querySelectorAll("input, textarea")) {
      control.addEventListener("input", () => tools.clearErrors(form));
    }

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      tools.clearErrors(form);
      const body = { title: form.title.value.trim(), body: form.body.value };
      const slug = form.slug.value.trim();
      if (!body.title) {
        tools.showErrors(form, [{ field: "title", message: "Give the article a title." }]);
        return;
      }
      if (slug) body.slug = slug;
      const result = article
        ? await tools.api("PATCH", `${base}/${article}`, body)
        : await tools.api("POST", base, body);
      if (result.ok) {
        window.location.assign(page(result.data.id) + "&saved=1");
      } else {
        failed(result);
      }
    });

    form.querySelector("[data-action=preview]").addEventListener("click", async () => {
      const result = await tools.api("POST", `${base}/preview`, { body: form.body.value });
      if (result.ok) {
        preview.innerHTML = result.data.html;  // rendered and sanitized by the server (nh3)
        preview.closest("section").scrollIntoView({ block: "nearest" });
      } else {
        failed(result);
      }
    });

    for (const action of ["publish", "unpublish"]) {
      const button = form.querySelector(`[data-action=${action}]`);
      if (!button) continue;
      button.addEventListener("click", async () => {
        const result = await tools.api("POST", `${base}/${article}/${action}`);
        if (result.ok) window.location.assign(page(article));
        else failed(result);
      });
    }

    const remove = form.querySelector("[data-action=delete]");
    if (remove) {
      remove.addEventListener("click", async () => {
        if (!window.confirm("Delete this article? It cannot be undone.")) return;
        const result = await tools.api("DELETE", `${base}/${article}`);
        if (result.ok || result.status === 204) window.location.assign(`/console/knowledge/${brand}`);
        else failed(result);
      });
    }
    if (new URLSearchParams(window.location.search).has("saved")) tools.toast("Saved.");
  }

  (window.tandemPages = window.tandemPages || []).push((tools) => {
    const root = document.getElementById("knowledge");
    if (root) editor(root, tools);
  });
})();
