// Tandem rules (tandem.web.rules): uploading a version, test cases, publishing a draft.
// Every change is an API call (/api/v1/...) with the session cookie; the API's errors are
// shown where they belong: at the form's field, or, for what is wrong inside the uploaded
// file, in the table of the file's problems. Loaded after console.js, whose helpers arrive
// through the window.tandemPages hook.
"use strict";

(function () {
  // A multipart POST (fetch does it; console.js's api() speaks JSON only).
  async function postForm(url, data) {
    const response = await fetch(url, { method: "POST", credentials: "same-origin", body: data });
    const text = await response.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (_) { body = { detail: text }; }
    return { status: response.status, ok: response.ok, data: body };
  }

  function note(id, message) {
    const span = document.createElement("span");
    span.className = "field-error";
    span.id = id;
    span.textContent = message;
    return span;
  }

  // -- a new version -----------------------------------------------------------------------

  function upload(form, tools) {
    const processId = form.dataset.process;
    const status = document.getElementById("rules-upload-status");
    const table = document.getElementById("rules-upload-errors");
    const rows = table.querySelector("tbody");
    const fieldset = document.getElementById("rules-four-eyes");
    const carried = document.getElementById("rules-carry");
    const carry = carried ? JSON.parse(carried.textContent) : null;

    // Where an error of the API goes: a control of the form, the four-eyes group, or (what
    // is wrong inside the file) the table of the file's problems.
    function locate(field) {
      if (field === "note") return form.note;
      if (field === "hit_policy") return form.hit_policy;
      if (field === "file") return form.file;
      if (field === "four_eyes.amount_field") return form.amount_field;
      if (field === "four_eyes.above") return form.above;
      if (field === "four_eyes" || field.startsWith("four_eyes.")) return fieldset;
      return null;
    }

    function reset() {
      tools.clearErrors(form);
      for (const old of fieldset.querySelectorAll(".field-error")) old.remove();
      rows.innerHTML = "";
      table.hidden = true;
      status.textContent = "";
      status.className = "";
    }

    function show(errors) {
      let first = null;
      const inFile = [];
      for (const error of errors) {
        const target = locate(error.field || "");
        if (!target) { inFile.push(error); continue; }
        const group = target.matches("fieldset");
        const span = note(`${target.id}-error`, error.message);
        const controls = group ? [...target.querySelectorAll("input, select")] : [target];
        for (const control of controls) {
          control.setAttribute("aria-invalid", "true");
          control.setAttribute("aria-describedby", span.id);
        }
        if (group) target.append(span); else target.insertAdjacentElement("afterend", span);
        first = first || controls[0];
      }
      for (const error of inFile) {
        const row = rows.insertRow();
        row.insertCell().textContent = error.field || "the file";
        row.insertCell().textContent = error.message;
      }
      if (inFile.length) {
        table.hidden = false;
        form.file.setAttribute("aria-invalid", "true");
        form.file.setAttribute("aria-describedby", "rules-file-hint rules-upload-errors");
        first = first || form.file;
      }
      if (first) first.focus();
    }

    function fourEyes() {
      const rule = {};
      if (form.declines.checked) rule.declines = true;
      if (form.amount_field.value) rule.amount_field = form.amount_field.value;
      const above = form.above.value.trim();
      if (above !== "") rule.above = Number(above);
      return rule;
    }

    form.addEventListener("change", (event) => {
      const target = event.target.closest("fieldset") || event.target;
      const old = document.getElementById(`${target.id}-error`);
      if (old) old.remove();
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      reset();
      const chosen = form.file.files[0];
      if (!chosen) { show([{ field: "file", message: "Choose the file of the rules." }]); return; }
      const keep = form.keep && form.keep.checked && carry;
      const noteText = form.note.value.trim();
      const button = form.querySelector("button[type=submit]");
      let result;
      if (/\.xlsx$/i.test(chosen.name)) {
        const data = new FormData();
        data.append("file", chosen);
        data.append("hit_policy", form.hit_policy.value);
        data.append("four_eyes", JSON.stringify(fourEyes()));
        if (noteText) data.append("note", noteText);
        if (keep && carry.reasons) data.append("reasons", JSON.stringify(carry.reasons));
        button.disabled = true;
        status.textContent = "Uploading…";
        result = await postForm(`/api/v1/processes/${processId}/rulesets/xlsx`, data);
      } else {
        let parsed;
        try {
          parsed = JSON.parse(await chosen.text());
        } catch (error) {
          show([{ field: "file", message: `Neither JSON nor a spreadsheet (.xlsx): ${error.message}` }]);
          return;
        }
        const whole = parsed && typeof parsed === "object" && !Array.isArray(parsed) && "graph" in parsed;
        const body = whole ? { ...parsed } : { graph: parsed };
        body.four_eyes = fourEyes();  // the form's, shown filled in with the last version's
        if (noteText) body.note = noteText;
        else if (!body.note) body.note = chosen.name.slice(0, 500);
        if (keep && !body.mapping && carry.mapping) body.mapping = carry.mapping;
        if (keep && !body.reasons && carry.reasons) body.reasons = carry.reasons;
        button.disabled = true;
        status.textContent = "Uploading…";
        result = await tools.api("POST", `/api/v1/processes/${processId}/rulesets`, body);
      }
      if (result.ok) {
        const made = result.data;
        if (form.copy_tests && form.copy_tests.checked && carry) {
          status.textContent = "Uploaded; copying the test cases…";
          const copied = await tools.api("POST", `/api/v1/rulesets/${made.id}/tests/copy`, { version: carry.version });
          if (!copied.ok) tools.toast(`The test cases were not copied: ${tools.problemText(copied)}`);
        }
        window.location.assign(`/console/rules/versions/${made.id}?done=uploaded`);
        return;
      }
      button.disabled = false;
      const errors = (result.data && result.data.errors) || [];
      status.className = "bad";
      status.textContent = errors.length
        ? `Not uploaded: ${errors.length} problem${errors.length === 1 ? "" : "s"}, shown where they are.`
        : `Not uploaded: ${tools.problemText(result)}`;
      show(errors);
    });
  }

  // -- a version: test cases and publishing --------------------------------------------------

  function version(root, tools) {
    const rulesetId = root.dataset.ruleset;
    const tests = document.getElementById("rules-tests");
    const testsStatus = document.getElementById("rules-tests-status");
    const publishStatus = document.getElementById("rules-publish-status");

    async function refresh() {
      const response = await fetch(`/console/rules/versions/${rulesetId}/tests`, { credentials: "same-origin" });
      if (!response.ok) { testsStatus.textContent = "The test cases could not be run: reload the page."; return null; }
      tests.innerHTML = await response.text();
      const summary = document.getElementById("rules-tests-summary");
      return { failed: Number(summary.dataset.failed), total: Number(summary.dataset.total) };
    }

    function told(counts) {
      if (!counts) return;
      testsStatus.textContent = counts.total
        ? `Ran ${counts.total} test case${counts.total === 1 ? "" : "s"}: ${counts.failed ? `${counts.failed} fail` : "all pass"}.`
        : "No test cases to run.";
    }

    const run = root.querySelector("[data-action=run-tests]");
    run.addEventListener("click", async () => {
      run.disabled = true;
      testsStatus.textContent = "Running…";
      told(await refresh());
      run.disabled = false;
    });

    const publish = root.querySelector("[data-action=publish]");
    const dialog = document.getElementById("rules-publish-dialog");
    if (publish && dialog) {
      publish.addEventListener("click", () => dialog.showModal());
      dialog.addEventListener("close", async () => {
        if (dialog.returnValue !== "publish") { publish.focus(); return; }
        publish.disabled = true;
        publishStatus.className = "";
        publishStatus.textContent = "Running the test cases, then publishing…";
        const result = await tools.api("POST", `/api/v1/rulesets/${rulesetId}/publish`);
        if (result.ok) {
          window.location.assign(`/console/rules/versions/${rulesetId}?done=published`);
          return;
        }
        publish.disabled = false;
        publishStatus.className = "bad";
        const failures = (result.data && result.data.failures) || [];
        if (failures.length) {
          const counts = await refresh();
          told(counts);
          publishStatus.textContent = `Not published: ${failures.length} of ${counts ? counts.total : "the"} test cases fail (${failures.map((f) => f.name).join(", ")}). They are marked "Fails" below.`;
        } else {
          publishStatus.textContent = `Not published: ${tools.problemText(result)}`;
        }
        publishStatus.focus();
      });
    }

    const add = document.getElementById("rules-add-test");
    if (add) {
      add.addEventListener("input", () => tools.clearErrors(add));
      add.addEventListener("submit", async (event) => {
        event.preventDefault();
        tools.clearErrors(add);
        const name = add.elements.namedItem("name");
        const body = { name: name.value.trim() };
        const errors = [];
        if (!body.name) errors.push({ field: "name", message: "Name the test case." });
        for (const field of ["input", "expected"]) {
          try {
            body[field] = JSON.parse(add.elements.namedItem(field).value);
            if (!body[field] || typeof body[field] !== "object" || Array.isArray(body[field])) {
              errors.push({ field, message: "Give a JSON object: {\"field\": value, …}" });
            }
          } catch (error) {
            errors.push({ field, message: `Not JSON: ${error.message}` });
          }
        }
        if (errors.length) { tools.showErrors(add, errors); return; }
        const result = await tools.api("POST", `/api/v1/rulesets/${rulesetId}/tests`, body);
        if (result.ok) {
          name.value = "";
          told(await refresh());
          tools.toast(`Test case "${body.name}" added and run.`);
          return;
        }
        const given = (result.data && result.data.errors) || [];
        const placed = given.length ? given : [{ field: result.status === 409 ? "name" : "", message: tools.problemText(result) }];
        const rest = tools.showErrors(add, placed);
        if (rest.length) tools.toast(rest.map((e) => e.message).join("; "));
      });
    }

    const copy = document.getElementById("rules-copy-tests");
    if (copy) {
      copy.addEventListener("submit", async (event) => {
        event.preventDefault();
        const result = await tools.api("POST", `/api/v1/rulesets/${rulesetId}/tests/copy`, { version: Number(copy.version.value) });
        if (!result.ok) { tools.toast(tools.problemText(result)); return; }
        told(await refresh());
        tools.toast(`${result.data.length} test case${result.data.length === 1 ? "" : "s"} copied from version ${copy.version.value}.`);
      });
    }
  }

  // A backtest reads many items: say it is running.
  function backtest(form) {
    form.addEventListener("submit", () => {
      const button = form.querySelector("button[type=submit]");
      document.getElementById("backtest-status").textContent = "Running the backtest…";
      setTimeout(() => { button.disabled = true; }, 0);  // after the form is on its way
    });
  }

  // A chart wider than a phone scrolls in its box: it opens at its end, the latest days.
  function latestInView() {
    for (const chart of document.querySelectorAll(".rules-page .chart")) chart.scrollLeft = chart.scrollWidth;
  }

  (window.tandemPages = window.tandemPages || []).push((tools) => {
    latestInView();
    const form = document.getElementById("rules-upload");
    if (form) upload(form, tools);
    const root = document.getElementById("rules-version");
    if (root) version(root, tools);
    const test = document.getElementById("rules-backtest");
    if (test) backtest(test);
  });
})();
