// The planner's pages (tandem.web.planning): plan a roster and publish it through the API.
"use strict";

function planRoster(form) {
  const status = form.querySelector(".plan-status");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors(form);
    const button = form.querySelector("button[type=submit]");
    const body = {
      name: form.name.value.trim() || form.name.placeholder,
      process_id: form.process_id.value,
      first_date: form.first_date.value,
      days: Number(form.days.value),
      time_limit_seconds: Number(form.time_limit_seconds.value),
    };
    // Centers paying in different currencies: the one costs are weighed in, and the others'
    // values in it, typed as "PHP=0.0172, PLN=0.25".
    const currency = form.cost_currency.value.trim().toUpperCase();
    if (currency) body.cost_currency = currency;
    const rates = {};
    for (const pair of form.exchange_rates.value.split(",")) {
      const [code, value] = pair.split("=").map((part) => part.trim());
      if (code) rates[code.toUpperCase()] = value === undefined || value === "" ? null : Number(value);
    }
    if (Object.keys(rates).length) body.exchange_rates = rates;
    // Solving takes up to the time limit: say how long it has been.
    const started = Date.now();
    button.disabled = true;
    const tick = () => {
      const seconds = Math.round((Date.now() - started) / 1000);
      status.textContent = `Planning… ${seconds} s of at most ${body.time_limit_seconds} s`;
    };
    tick();
    const timer = setInterval(tick, 1000);
    const result = await api("POST", "/api/v1/rosters", body);
    clearInterval(timer);
    button.disabled = false;
    if (result.ok) {
      window.location.assign(`/console/planning/rosters/${result.data.id}`);
      return;
    }
    const unplaced = showErrors(form, result.data && result.data.errors);
    status.textContent = unplaced.length
      ? unplaced.map((e) => `${e.field}: ${e.message}`).join("; ")
      : problemText(result);
  });
}

function publishRoster(button) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    const result = await api("POST", `/api/v1/rosters/${button.dataset.roster}/publish`);
    if (result.ok) { window.location.reload(); return; }
    button.disabled = false;
    toast(problemText(result));
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("plan-roster");
  if (form) planRoster(form);
  const publish = document.getElementById("publish");
  if (publish) publishRoster(publish);
});
