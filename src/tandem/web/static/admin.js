// Tandem console, administration: users and roles, clients, the process editor with a live
// preview of its forms, agents with their skills, languages, clearances and shifts. Every
// change goes through the public API (/api/v1) with the session cookie; its errors name the
// field and are shown there. Loaded after console.js, whose helpers arrive through the
// window.tandemPages hook.
"use strict";

(function () {
  // -- errors at the field ------------------------------------------------------------------
  // Like console.js's showErrors, but an error on a path inside a control's value
  // ("input_schema.properties.x") goes to that control, several errors of one control share
  // one note, and the control's own hint stays described.

  function errorNoteId(control) { return `${control.id}-error`; }

  function mark(control, message) {
    const id = errorNoteId(control);
    let note = document.getElementById(id);
    if (!note) {
      note = document.createElement("span");
      note.className = "field-error";
      note.id = id;
      if (control.type === "checkbox") {
        (control.closest("fieldset") || control.parentElement).append(note);
      } else {
        control.insertAdjacentElement("afterend", note);
      }
    }
    note.textContent = message;
    if (!("hint" in control.dataset)) control.dataset.hint = control.getAttribute("aria-describedby") || "";
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", [id, control.dataset.hint].filter(Boolean).join(" "));
  }

  function unmark(control) {
    const note = document.getElementById(errorNoteId(control));
    if (note) note.remove();
    control.removeAttribute("aria-invalid");
    if ("hint" in control.dataset) {
      if (control.dataset.hint) control.setAttribute("aria-describedby", control.dataset.hint);
      else control.removeAttribute("aria-describedby");
    }
  }

  function clearAll(form) {
    for (const control of form.querySelectorAll("[aria-invalid]")) unmark(control);
  }

  // The control an error's field names, or the nearest one above it on the dotted path.
  function controlFor(form, field) {
    const parts = String(field || "").split(".");
    for (let n = parts.length; n > 0; n -= 1) {
      const name = parts.slice(0, n).join(".");
      const control = name && form.querySelector(`[name="${CSS.escape(name)}"]`);
      if (control) return { control, rest: parts.slice(n).join(".") };
    }
    return null;
  }

  // Shows each error at its field; returns the errors no control of the form could take.
  function place(form, errors) {
    const notes = new Map();
    const unplaced = [];
    for (const error of errors || []) {
      const found = controlFor(form, error.field);
      if (!found) { unplaced.push(error); continue; }
      const text = found.rest ? `${found.rest}: ${error.message}` : error.message;
      notes.set(found.control, [...(notes.get(found.control) || []), text]);
    }
    for (const [control, texts] of notes) mark(control, texts.join("; "));
    const first = [...notes.keys()][0];
    if (first) first.focus();
    return unplaced;
  }

  // After a failed call: errors at their fields, anything else in the toast.
  function report(h, form, result, fallback) {
    const errors = (result.data && result.data.errors) || [];
    const rest = place(form, errors);
    if (!errors.length && fallback) { mark(fallback, h.problemText(result)); fallback.focus(); return; }
    if (rest.length) h.toast(rest.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join("; "));
    else if (!errors.length) h.toast(h.problemText(result));
  }

  function value(form, name) {
    const control = form.elements.namedItem(name);
    return control && "value" in control ? control.value.trim() : "";
  }

  function numberOr(raw) {
    const number = Number(raw);
    return raw !== "" && Number.isFinite(number) ? number : raw;
  }

  const words = (role) => role.replace(/_/g, " ");

  // -- users and roles ------------------------------------------------------------------------

  function usersPage(root, h) {
    const add = root.querySelector("#add-user");
    const role = add.elements.namedItem("role");
    const client = add.elements.namedItem("client_id");
    const fitClient = () => {
      if (!client) return;
      const option = role.selectedOptions[0];
      const forClient = Boolean(option && option.hasAttribute("data-client"));
      client.disabled = !forClient;
      if (!forClient) client.value = "";
    };
    role.addEventListener("change", fitClient);
    fitClient();

    add.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearAll(add);
      const body = { email: value(add, "email"), name: value(add, "name"), role: role.value };
      if (client && client.value) body.client_id = Number(client.value);
      const password = add.elements.namedItem("password").value;
      if (password) body.password = password;
      const result = await h.api("POST", "/api/v1/users", body);
      if (result.ok) {
        window.location.assign(`/console/admin/users?added=${encodeURIComponent(result.data.email)}`);
        return;
      }
      // The one conflict adding a user meets is an email already taken.
      const email = add.elements.namedItem("email");
      report(h, add, result, result.status === 409 ? email : null);
    });

    for (const form of root.querySelectorAll("form.role")) {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearAll(form);
        const row = form.closest("tr");
        const select = form.elements.namedItem("role");
        const result = await h.api("PUT", `/api/v1/users/${row.dataset.user}/role`, { role: select.value });
        if (result.ok) {
          h.toast(`${row.dataset.email} is now ${words(result.data.role)}.`);
          return;
        }
        report(h, form, result, select);
      });
    }

    for (const button of root.querySelectorAll("[data-deactivate]")) {
      button.addEventListener("click", async () => {
        const row = button.closest("tr");
        const email = row.dataset.email;
        if (!window.confirm(`Deactivate ${email}? They can no longer sign in; their sessions end now.`)) return;
        const result = await h.api("DELETE", `/api/v1/users/${row.dataset.user}`);
        if (!result.ok) { h.toast(h.problemText(result)); return; }
        row.classList.add("inactive");
        const active = row.querySelector("[data-active]");
        active.textContent = "no";
        const form = row.querySelector("form.role");
        if (form) {
          const shown = document.createElement("span");
          shown.textContent = words(result.data.role);
          form.replaceWith(shown);
        }
        button.remove();
        active.tabIndex = -1;
        active.focus();
        h.toast(`${email} is deactivated.`);
      });
    }
  }

  // -- clients --------------------------------------------------------------------------------

  function clientsPage(form, h) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearAll(form);
      const body = { code: value(form, "code"), name: value(form, "name"), timezone: value(form, "timezone") };
      if (value(form, "country")) body.country = value(form, "country");
      const result = await h.api("POST", "/api/v1/clients", body);
      if (result.ok) {
        window.location.assign(`/console/admin/clients?added=${encodeURIComponent(result.data.code)}`);
        return;
      }
      report(h, form, result, result.status === 409 ? form.elements.namedItem("code") : null);
    });
  }

  // -- a form schema drawn as the console draws it (mirrors tandem.web.forms) ---------------

  const FORMATS = { date: "date", "date-time": "datetime-local", email: "email", uri: "url" };

  const isObject = (x) => x !== null && typeof x === "object" && !Array.isArray(x);

  // Python's str() of an enum value, as the server draws the options.
  function pythonText(x) {
    if (x === true) return "True";
    if (x === false) return "False";
    if (x === null) return "None";
    return typeof x === "object" ? JSON.stringify(x) : String(x);
  }

  function capitalize(text) { return text.charAt(0).toUpperCase() + text.slice(1).toLowerCase(); }

  function controls(schema) {
    const required = new Set(Array.isArray(schema.required) ? schema.required : []);
    const properties = isObject(schema.properties) ? schema.properties : {};
    return Object.entries(properties)
      .filter(([, spec]) => isObject(spec))
      .map(([name, spec]) => control(name, spec, required.has(name)));
  }

  function control(name, spec, required) {
    const c = {
      name, required, kind: "text", options: [], attributes: {},
      label: String(spec.title || capitalize(name.replace(/_/g, " "))),
      help: spec.description || null,
      personal: spec["x-personal"] === undefined ? null : String(spec["x-personal"]),
    };
    const types = spec.type;
    const type = typeof types === "string" ? types : (Array.isArray(types) && types.length ? types[0] : "string");
    if ("enum" in spec) {
      c.kind = "select";
      c.options = Array.isArray(spec.enum) ? spec.enum.map(pythonText) : [];
      return c;
    }
    if (type === "boolean") {
      c.kind = "checkbox";
    } else if (type === "number" || type === "integer") {
      c.kind = type;
      if ("minimum" in spec) c.attributes.min = spec.minimum;
      if ("maximum" in spec) c.attributes.max = spec.maximum;
      c.attributes.step = type === "integer" ? "1" : "any";
    } else if (type === "string") {
      c.kind = FORMATS[String(spec.format)] || "text";
      if (c.kind === "text" && Number(spec.maxLength || 0) > 200) c.kind = "textarea";
      if ("maxLength" in spec) c.attributes.maxlength = spec.maxLength;
      if ("minLength" in spec) c.attributes.minlength = spec.minLength;
      if ("pattern" in spec) c.attributes.pattern = spec.pattern;
    }
    return c;
  }

  function element(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [key, val] of Object.entries(attributes || {})) {
      if (val === true) node.setAttribute(key, "");
      else if (val !== false && val !== null && val !== undefined) node.setAttribute(key, String(val));
    }
    node.append(...children);
    return node;
  }

  // The controls as _form.html draws them; without names, so they never stand for a field
  // of the editor's own form. Personal fields carry their category.
  function draw(box, list, prefix) {
    const fields = list.map((c, index) => {
      const id = `${prefix}-${index}`;
      const field = element("div", { class: "field", "data-preview-field": c.name });
      const tag = c.personal ? element("span", { class: "tag" }, `personal: ${c.personal}`) : "";
      if (c.kind === "checkbox") {
        field.append(element("label", { for: id }, element("input", { id, type: "checkbox" }), ` ${c.label}`, tag));
      } else {
        const star = c.required ? element("span", { "aria-hidden": "true" }, "*") : "";
        field.append(element("label", { for: id }, c.label, c.required ? " " : "", star, tag));
        if (c.kind === "select") {
          const select = element("select", { id, required: c.required }, element("option", { value: "" }, "(choose)"));
          for (const option of c.options) select.append(element("option", {}, option));
          field.append(select);
        } else if (c.kind === "textarea") {
          field.append(element("textarea", { id, required: c.required, ...c.attributes }));
        } else {
          const type = c.kind === "integer" || c.kind === "number" ? "number" : c.kind;
          field.append(element("input", { id, type, required: c.required, ...c.attributes }));
        }
      }
      if (c.help) field.append(element("span", { class: "hint" }, c.help));
      return field;
    });
    box.replaceChildren(...fields);
  }

  // -- the process editor ---------------------------------------------------------------------

  function parseError(error, text) {
    let message = error.message;
    const at = /position (\d+)/.exec(message);
    if (at && !/line \d+/.test(message)) {
      const before = text.slice(0, Number(at[1])).split("\n");
      message += ` (line ${before.length} column ${before[before.length - 1].length + 1})`;
    }
    return `The JSON does not parse: ${message}`;
  }

  function readSchema(textarea) {
    const text = textarea.value;
    let schema;
    try {
      schema = JSON.parse(text);
    } catch (error) {
      return { error: parseError(error, text) };
    }
    if (!isObject(schema)) return { error: 'Must be a JSON object, such as {"type": "object", "properties": {}}' };
    return { schema };
  }

  function livePreview(textarea) {
    const preview = document.getElementById(textarea.dataset.schema);
    const status = preview.querySelector("[role=status]");
    const box = preview.querySelector(".preview-fields");
    const redraw = () => {
      const read = readSchema(textarea);
      if (read.error) {
        mark(textarea, read.error);
        preview.dataset.state = "broken";
        status.textContent = "The JSON does not parse: this is the last version that did.";
        return;
      }
      unmark(textarea);
      preview.dataset.state = "drawn";
      const list = controls(read.schema);
      draw(box, list, `preview-${textarea.name}`);
      status.textContent = list.length
        ? `${list.length} field${list.length === 1 ? "" : "s"}, as drawn in the console.`
        : 'No fields yet: add them under "properties".';
    };
    textarea.addEventListener("input", redraw);
    redraw();
  }

  function processEditor(form, h) {
    const editors = [...form.querySelectorAll("textarea[data-schema]")];
    for (const textarea of editors) livePreview(textarea);
    const graphFile = form.querySelector("#draft-graph");
    if (graphFile) graphFile.addEventListener("change", () => draftFromGraph(form, graphFile, h));

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearAll(form);
      const body = {};
      const broken = [];
      for (const textarea of editors) {
        const read = readSchema(textarea);
        if (read.error) { mark(textarea, read.error); broken.push(textarea); } else body[textarea.name] = read.schema;
      }
      if (broken.length) { broken[0].focus(); h.toast("Fix the JSON of the form first."); return; }
      for (const name of ["code", "name", "kind", "sla_mode"]) body[name] = value(form, name);
      for (const name of ["sla_minutes", "priority"]) {
        const raw = value(form, name);
        if (raw !== "") body[name] = numberOr(raw);
      }
      const price = value(form, "price_per_item");
      if (price !== "") body.price_per_item = price;
      for (const name of ["client_id", "language", "min_cefr"]) {
        const raw = value(form, name);
        if (raw !== "") body[name] = name === "client_id" ? numberOr(raw) : raw;
      }
      body.required_skills = {};
      for (const input of form.querySelectorAll("[data-skill]")) {
        const raw = input.value.trim();
        if (raw !== "") body.required_skills[input.dataset.skill] = numberOr(raw);
      }
      body.agent_visible_personal = [...form.querySelectorAll("[name=agent_visible_personal]:checked")].map((c) => c.value);
      const result = await h.api("POST", "/api/v1/processes", body);
      if (result.ok) {
        window.location.assign(`/console/admin/processes?added=${encodeURIComponent(result.data.code)}`);
        return;
      }
      // A conflict defining a process is its code, taken already for the client.
      report(h, form, result, result.status === 409 ? form.elements.namedItem("code") : null);
    });
  }

  // A decision process's input form drafted from a graph (POST /api/v1/rulesets/draft-form):
  // the schema lands in the input editor, whose preview redraws, and the kind becomes decision.
  async function draftFromGraph(form, input, h) {
    unmark(input);
    const file = input.files[0];
    if (!file) return;
    let graph;
    try { graph = JSON.parse(await file.text()); } catch (_) {
      mark(input, `${file.name} is not JSON`);
      return;
    }
    const result = await h.api("POST", "/api/v1/rulesets/draft-form", { graph });
    if (!result.ok) {
      mark(input, h.problemText(result));
      return;
    }
    const editor = form.elements.namedItem("input_schema");
    editor.value = JSON.stringify(result.data.input_schema, null, 2);
    editor.dispatchEvent(new Event("input"));
    form.elements.namedItem("kind").value = "decision";
    const fields = Object.keys(result.data.input_schema.properties || {}).length;
    h.toast(`Drafted ${fields} field(s) from ${file.name}: check the types, then define the process.`);
  }

  // -- agents and skills ----------------------------------------------------------------------
  // Each agent's row opens an editor of four forms; each form replaces one set through
  // PUT /api/v1/agents/{id}/<set> and redraws the row's summary of it from the answer.

  const DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

  const twoDigits = (n) => String(n).padStart(2, "0");
  const clockTime = (minute) => `${twoDigits(Math.floor(minute / 60))}:${twoDigits(minute % 60)}`;

  // As the server writes it (tandem.web.admin.shift_text): "Mon 09:00 9h".
  function shiftText(shift) {
    const hours = Number((shift.duration_minutes / 60).toFixed(2));
    return `${DAYS[shift.weekday]} ${clockTime(shift.start_minute)} ${hours}h`;
  }

  function minutesOf(time) {
    const match = /^(\d{2}):(\d{2})/.exec(time);
    return match ? Number(match[1]) * 60 + Number(match[2]) : null;
  }

  function labelOf(control) {
    const label = control.id && document.querySelector(`label[for="${CSS.escape(control.id)}"]`);
    return label ? label.textContent.trim() : control.value;
  }

  function fill(cell, texts) {
    if (texts.length) { cell.textContent = texts.join(", "); return; }
    const none = document.createElement("span");
    none.className = "hint";
    none.textContent = "none";
    cell.replaceChildren(none);
  }

  // Per set: the body read from the form, with the mistakes found before asking the server
  // (`local`: [control, message]) and how the server's field names map to the form's
  // controls (`rename`); and the row's summary drawn from the answer.
  const SETS = {
    skills: {
      read(form) {
        const skills = {};
        for (const input of form.querySelectorAll("input[name^='skills.']")) {
          const raw = input.value.trim();
          if (raw !== "") skills[input.name.slice("skills.".length)] = numberOr(raw);
        }
        return { body: { skills }, local: [] };
      },
      summary(form, data) {
        return Object.entries(data.skills).map(([code, level]) => {
          const input = form.elements.namedItem(`skills.${code}`);
          return `${input ? labelOf(input) : code} ${level}`;
        });
      },
    },
    languages: {
      read(form) {
        const languages = {};
        const controls = {}; // language code -> the name of its input
        const local = [];
        for (const row of form.querySelectorAll("[data-row]")) {
          const code = row.querySelector("input");
          const level = row.querySelector("select");
          const text = code.value.trim();
          if (!level.value) continue; // level "none": not held
          if (!text) local.push([code, "a language code, such as en"]);
          else if (text in languages) local.push([code, `${text} is there twice`]);
          else { languages[text] = level.value; controls[text] = code.name; }
        }
        const rename = (field) => {
          const match = /^languages\.(.+)$/.exec(field);
          return match && controls[match[1]] ? controls[match[1]] : field;
        };
        return { body: { languages }, local, rename };
      },
      summary(form, data) {
        return Object.entries(data.languages).map(([language, cefr]) => `${language} ${cefr}`);
      },
    },
    clearances: {
      read(form) {
        const checked = form.querySelectorAll("input[name='client_ids']:checked");
        return { body: { client_ids: [...checked].map((box) => Number(box.value)) }, local: [] };
      },
      summary(form, data) {
        return data.client_ids.map((id) => {
          const box = form.querySelector(`input[name='client_ids'][value='${id}']`);
          return box ? labelOf(box) : String(id);
        });
      },
    },
    shifts: {
      read(form) {
        const shifts = [];
        const rows = []; // the form's row of each shift sent
        const local = [];
        for (const row of form.querySelectorAll("[data-row]")) {
          const [day, start, length] = row.querySelectorAll("select, input");
          if (day.value === "") continue; // no shift
          const minute = minutesOf(start.value);
          const hours = Number(length.value);
          if (minute === null) local.push([start, "the time the shift starts"]);
          if (length.value.trim() === "" || !(hours > 0 && hours <= 24)) {
            local.push([length, "the shift's length in hours, up to 24"]);
          }
          if (minute === null || !(hours > 0 && hours <= 24)) continue;
          rows.push(row.dataset.row);
          shifts.push({ weekday: Number(day.value), start_minute: minute, duration_minutes: Math.round(hours * 60) });
        }
        const rename = (field) => String(field).replace(/^shifts\.(\d+)\./, (_, i) => `shifts.${rows[Number(i)]}.`);
        return { body: { shifts }, local, rename };
      },
      summary(form, data) { return data.shifts.map(shiftText); },
    },
  };

  const WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];
  const BLANK_ROWS = 2; // rows to add a language or a shift in

  // Words of a label for screen readers only: "Day" shows, "Day of shift 3" is read.
  const hidden = (text) => element("span", { class: "visually-hidden" }, text);

  function languageRow(agent, n, levels, language, cefr) {
    const code = `language-${agent}-${n}`;
    const level = `cefr-${agent}-${n}`;
    const options = levels.map((l) => element("option", { selected: l === cefr }, l));
    return element(
      "div", { class: "pair", "data-row": n },
      element(
        "div", {},
        element("label", { for: code }, "Language", hidden(` ${n + 1}`)),
        element("input", {
          id: code, name: `languages.${n}.code`, value: language, maxlength: 8,
          autocomplete: "off", "aria-describedby": `languages-${agent}-hint`,
        }),
      ),
      element(
        "div", {},
        element("label", { for: level }, "Level", hidden(` of language ${n + 1}`)),
        element("select", { id: level, name: `languages.${n}.cefr` }, element("option", { value: "" }, "none"), ...options),
      ),
    );
  }

  function shiftRow(agent, n, shift) {
    const [day, start, length] = ["day", "start", "hours"].map((part) => `shift-${part}-${agent}-${n}`);
    const days = WEEKDAYS.map((name, i) => element("option", { value: i, selected: Boolean(shift) && shift.weekday === i }, name));
    return element(
      "div", { class: "triple", "data-row": n },
      element(
        "div", {},
        element("label", { for: day }, "Day", hidden(` of shift ${n + 1}`)),
        element("select", { id: day, name: `shifts.${n}.weekday`, "aria-describedby": `shifts-${agent}-hint` }, element("option", { value: "" }, "no shift"), ...days),
      ),
      element(
        "div", {},
        element("label", { for: start }, "Start", hidden(` of shift ${n + 1}`)),
        element("input", { id: start, name: `shifts.${n}.start_minute`, type: "time", value: shift ? clockTime(shift.start_minute) : "" }),
      ),
      element(
        "div", {},
        element("label", { for: length }, "Hours", hidden(` of shift ${n + 1}`)),
        element("input", {
          id: length, name: `shifts.${n}.duration_minutes`, type: "number", min: 0.25, max: 24, step: 0.25,
          inputmode: "decimal", value: shift ? Number((shift.duration_minutes / 60).toFixed(2)) : "",
        }),
      ),
    );
  }

  // The editor of one agent, from the page's template, filled with what the API says now.
  function drawEditor(root, row, agent) {
    const template = root.querySelector("#agent-editor");
    const editor = template.content.firstElementChild.cloneNode(true);
    for (const node of [editor, ...editor.querySelectorAll("*")]) {
      for (const name of ["id", "for", "data-agent", "aria-labelledby", "aria-describedby"]) {
        const value = node.getAttribute(name);
        if (value && value.includes("__AGENT__")) node.setAttribute(name, value.replaceAll("__AGENT__", agent.id));
      }
    }
    editor.querySelector("[role=group]").setAttribute("aria-label", `Change ${agent.name}`);
    for (const input of editor.querySelectorAll("input[name^='skills.']")) {
      const level = agent.skills[input.name.slice("skills.".length)];
      input.value = level === undefined ? "" : String(level);
    }
    const levels = (root.dataset.cefr || "").split(" ").filter(Boolean);
    const languages = [...Object.entries(agent.languages), ...Array(BLANK_ROWS).fill(["", ""])];
    editor.querySelector("[data-set=languages] [data-rows]").replaceChildren(
      ...languages.map(([language, cefr], n) => languageRow(agent.id, n, levels, language, cefr)),
    );
    for (const box of editor.querySelectorAll("input[name='client_ids']")) {
      box.checked = agent.client_ids.includes(Number(box.value));
    }
    editor.querySelector("[data-timezone]").textContent = row.dataset.timezone;
    const shifts = [...agent.shifts, ...Array(BLANK_ROWS).fill(null)];
    editor.querySelector("[data-set=shifts] [data-rows]").replaceChildren(
      ...shifts.map((shift, n) => shiftRow(agent.id, n, shift)),
    );
    return editor;
  }

  function wireEditor(h, editor, row) {
    for (const form of editor.querySelectorAll("form[data-set]")) {
      const set = SETS[form.dataset.set];
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearAll(form);
        const read = set.read(form);
        if (read.local.length) {
          for (const [control, message] of read.local) mark(control, message);
          read.local[0][0].focus();
          return;
        }
        const result = await h.api("PUT", `/api/v1/agents/${row.dataset.agent}/${form.dataset.set}`, read.body);
        if (!result.ok) {
          const errors = ((result.data && result.data.errors) || []).map((error) => ({
            ...error,
            field: read.rename ? read.rename(error.field) : error.field,
          }));
          report(h, form, { ...result, data: { ...result.data, errors } }, null);
          return;
        }
        fill(row.querySelector(`[data-cell="${form.dataset.set}"]`), set.summary(form, result.data));
        h.toast(`Saved the ${form.dataset.set} of ${row.dataset.name}.`);
      });
    }
  }

  function agentsPage(root, h) {
    const show = (button, editor, open) => {
      editor.hidden = !open;
      button.setAttribute("aria-expanded", String(open));
    };

    // Opens (drawing it the first time) or closes the editor under the button's row.
    async function toggle(button) {
      const row = button.closest("tr");
      let editor = document.getElementById(`edit-${row.dataset.agent}`);
      if (editor) { show(button, editor, editor.hidden); return editor; }
      button.disabled = true;
      const result = await h.api("GET", `/api/v1/agents/${row.dataset.agent}`);
      button.disabled = false;
      if (!result.ok) { h.toast(h.problemText(result)); button.focus(); return null; }
      editor = drawEditor(root, row, result.data);
      row.after(editor);
      wireEditor(h, editor, row);
      button.setAttribute("aria-controls", editor.id);
      editor.addEventListener("keydown", (event) => {
        if (event.key !== "Escape") return;
        show(button, editor, false);
        button.focus();
      });
      show(button, editor, true);
      button.focus();
      return editor;
    }

    for (const button of root.querySelectorAll("[data-edit]")) {
      button.addEventListener("click", () => toggle(button));
    }

    for (const button of root.querySelectorAll("[data-deactivate]")) {
      button.addEventListener("click", async () => {
        const row = button.closest("tr");
        const name = row.dataset.name;
        const question = `Deactivate ${name}? They claim no more work; leases they hold now run out and their items go back to the queue.`;
        if (!window.confirm(question)) return;
        const result = await h.api("DELETE", `/api/v1/agents/${row.dataset.agent}`);
        if (!result.ok) { h.toast(h.problemText(result)); return; }
        row.classList.add("inactive");
        const active = row.querySelector("[data-cell='active']");
        active.textContent = "no";
        const editor = document.getElementById(`edit-${row.dataset.agent}`);
        if (editor) editor.remove();
        row.querySelector("td.manage").replaceChildren();
        active.tabIndex = -1;
        active.focus();
        h.toast(`${name} is deactivated.`);
      });
    }

    const add = root.querySelector("#add-agent");
    if (add) {
      add.addEventListener("submit", async (event) => {
        event.preventDefault();
        clearAll(add);
        const body = { name: value(add, "name"), center_code: value(add, "center_code"), tier: value(add, "tier") };
        const user = value(add, "user_id");
        if (user) body.user_id = user;
        const result = await h.api("POST", "/api/v1/agents", body);
        if (result.ok) {
          const added = encodeURIComponent(result.data.name);
          window.location.assign(`/console/admin/agents?added=${added}&edit=${result.data.id}`);
          return;
        }
        report(h, add, result, null);
      });
    }

    // Just added: the new agent's editor opens, its first control focused.
    const wanted = new URLSearchParams(window.location.search).get("edit");
    const row = wanted && root.querySelector(`tr.agent[data-agent="${CSS.escape(wanted)}"]`);
    const button = row && row.querySelector("[data-edit]");
    if (button) {
      toggle(button).then((editor) => {
        if (editor) editor.querySelector("input, select").focus();
      });
    }
  }

  (window.tandemPages = window.tandemPages || []).push((h) => {
    const users = document.getElementById("admin-users");
    if (users) usersPage(users, h);
    const newClient = document.getElementById("new-client");
    if (newClient) clientsPage(newClient, h);
    const editor = document.getElementById("process-editor");
    if (editor) processEditor(editor, h);
    const agents = document.getElementById("admin-agents");
    if (agents && "manage" in agents.dataset) agentsPage(agents, h);
  });
})();
