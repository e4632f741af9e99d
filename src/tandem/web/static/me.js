// Tandem console, your own settings (tandem.web.me): the time zone times are shown in, and
// your password. Each form calls the API with the session cookie; an error naming a field
// is shown at it, and cleared when the form is sent again.
"use strict";

(window.tandemPages = window.tandemPages || []).push(({ api, toast, problemText, clearErrors, showErrors }) => {
  const send = (form, method, url, body, done, said) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);
      const status = document.getElementById(done);
      status.textContent = "";
      const result = await api(method, url, body(form));
      if (result.ok) {
        status.textContent = said;
        return;
      }
      const left = showErrors(form, (result.data && result.data.errors) || []);
      if (left.length || !(result.data && result.data.errors)) toast(problemText(result));
    });
  };
  const zone = document.getElementById("time-zone");
  if (zone) {
    send(zone, "PUT", "/api/v1/me/time-zone", (form) => ({ time_zone: form.time_zone.value || null }),
      "time-zone-done", "Saved: pages show times in this zone from now on.");
  }
  const password = document.getElementById("password");
  if (password) {
    send(password, "PUT", "/api/v1/me/password",
      (form) => ({ current_password: form.current_password.value, new_password: form.new_password.value }),
      "password-done", "Changed. Your other browsers are signed out.");
  }
});
