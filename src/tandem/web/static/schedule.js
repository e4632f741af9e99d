// Tandem console, "My schedule" (tandem.web.schedule): ask for a day off or a start, and
// withdraw a request, through the API; an error naming a field is shown at it.
"use strict";

(window.tandemPages = window.tandemPages || []).push(({ api, toast, problemText, clearErrors, showErrors }) => {
  const form = document.getElementById("new-request");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const body = { local_date: form.local_date.value, kind: form.kind.value };
      if (form.kind.value === "shift_start" || form.start_time.value) body.start_time = form.start_time.value || null;
      if (form.note.value.trim()) body.note = form.note.value.trim();
      if (!body.local_date) {
        showErrors(form, [{ field: "local_date", message: "choose a date" }]);
        return;
      }
      const result = await api("POST", "/api/v1/me/shift-requests", body);
      if (result.ok) { window.location.reload(); return; }
      const left = showErrors(form, (result.data && result.data.errors) || []);
      if (left.length || !(result.data && result.data.errors)) toast(problemText(result));
    });
  }
  for (const button of document.querySelectorAll("button.withdraw")) {
    button.addEventListener("click", async () => {
      button.disabled = true;
      const result = await api("DELETE", `/api/v1/me/shift-requests/${button.dataset.request}`);
      if (result.ok) { window.location.reload(); return; }
      button.disabled = false;
      toast(problemText(result));
    });
  }
});
