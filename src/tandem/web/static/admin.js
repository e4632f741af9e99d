// Tandem console, administration: users and roles, clients, the process editor with a live
// preview of its forms. Every change goes through the public API (/api/v1) with the session
// cookie; its errors name the field and are shown there. Loaded after console.js, whose
// helpers arrive through the window.tandemPages hook.
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

  (window.tandemPages = window.tandemPages || []).push((h) => {
    const users = document.getElementById("admin-users");
    if (users) usersPage(users, h);
    const newClient = document.getElementById("new-client");
    if (newClient) clientsPage(newClient, h);
    const editor = document.getElementById("process-editor");
    if (editor) processEditor(editor, h);
  });
})();
