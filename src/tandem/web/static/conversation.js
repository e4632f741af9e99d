// Tandem console, the service desk's conversation page (tandem.web.workbench): the composer
// writes a reply to the customer or an internal note through the API
// (/api/v1/conversations/{id}/replies, /notes) with the lease's attempt, the lease kept alive
// while the page is open; Ctrl+Enter sends; errors naming a field are shown at it. Loaded
// after console.js, whose helpers arrive through the window.tandemPages hook.
"use strict";

(function () {
  function desk(root, tools) {
    const conversationId = root.dataset.conversation;
    const itemId = root.dataset.item;
    const attempt = Number(root.dataset.attempt);
    const form = root.querySelector("form.composer");
    const send = form.querySelector("button[type=submit]");
    const then = form.querySelector(".then");
    const stop = tools.keepLease(root);

    function kind() { return form.querySelector("input[name=kind]:checked").value; }
    function shown() {  // a note changes nothing: no state to leave it in
      const note = kind() === "note";
      then.hidden = note;
      send.textContent = note ? "Add the note" : "Send the reply";
    }
    for (const radio of form.querySelectorAll("input[name=kind]")) radio.addEventListener("change", shown);
    shown();
    form.text.addEventListener("input", () => tools.clearErrors(form));
    form.text.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        form.requestSubmit();
      }
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      tools.clearErrors(form);
      const text = form.text.value;
      if (!text.trim()) {
        tools.showErrors(form, [{ field: "text", message: "Write something first." }]);
        return;
      }
      const note = kind() === "note";
      const body = note ? { attempt, text } : { attempt, text, then: form.then.value };
      send.disabled = true;
      const result = await tools.api(
        "POST", `/api/v1/conversations/${conversationId}/${note ? "notes" : "replies"}`, body,
      );
      if (result.ok) {
        if (note) {  // the lease is still ours: the page again, the note in the thread
          window.location.reload();
          return;
        }
        stop();
        window.location.assign("/console/work?done=" + itemId);
        return;
      }
      send.disabled = false;
      const rest = tools.showErrors(form, result.data && result.data.errors);
      tools.toast(rest.length ? rest.map((e) => `${e.field}: ${e.message}`).join("; ") : tools.problemText(result));
    });

    root.querySelector("[data-action=release]").addEventListener("click", async () => {
      const result = await tools.api("POST", `/api/v1/leases/${itemId}/release`, { attempt });
      if (result.ok || result.status === 204) {
        stop();
        window.location.assign("/console/work");
      } else {
        tools.toast(tools.problemText(result));
      }
    });
    form.text.focus();
  }

  (window.tandemPages = window.tandemPages || []).push((tools) => {
    const root = document.getElementById("conversation");
    if (root) desk(root, tools);
  });
})();
