// Tandem console, the service desk's conversation page (tandem.web.workbench): the composer
// writes a reply to the customer or an internal note through the API
// (/api/v1/conversations/{id}/replies, /notes) with the lease's attempt, the lease kept alive
// while the page is open; Ctrl+Enter sends; errors naming a field are shown at it; the
// brand's suggested articles are listed beside the thread. Loaded after console.js, whose
// helpers arrive through the window.tandemPages hook.
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
    const macros = form.querySelector("#composer-macro");
    let macroText = "";  // the text the chosen macro put in the composer
    if (macros) {
      // A macro's text goes into the composer (over what the last macro put there, after
      // what the agent wrote) and its state into "Then leave it"; its id goes with the reply,
      // whose sending applies its tags and priority (tandem.servicedesk.macros).
      macros.addEventListener("change", () => {
        const chosen = macros.selectedOptions[0];
        const note = form.querySelector("#macro-note");
        let mine = form.text.value;
        if (macroText && mine.endsWith(macroText)) mine = mine.slice(0, -macroText.length);
        mine = mine.trim();
        macroText = chosen.value ? chosen.dataset.body : "";
        form.text.value = mine && macroText ? `${mine}\n\n${macroText}` : mine || macroText;
        if (chosen.dataset.then) form.then.value = chosen.dataset.then;
        tools.clearErrors(form);
        const said = [];
        const tags = chosen.dataset.tags;
        if (tags) said.push(`adds the tag${tags.includes(",") ? "s" : ""} ${tags}`);
        if (chosen.dataset.then) said.push(`leaves it ${chosen.dataset.then}`);
        note.textContent = chosen.value && said.length ? `On sending, this macro ${said.join(" and ")}.` : "";
        form.text.focus();
      });
      root.addEventListener("keydown", (event) => {
        if (event.altKey && (event.key === "m" || event.key === "M")) {
          event.preventDefault();
          macros.focus();
        }
      });
    }
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
      if (!note && macros && macros.value) body.macro_id = macros.value;
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
    suggest(root, tools, conversationId);
    form.text.focus();
  }

  // The brand's articles that may answer the customer (tandem.servicedesk.knowledge), each
  // opened on the brand's help center in a new tab.
  async function suggest(root, tools, conversationId) {
    const status = root.querySelector("[data-suggestions-status]");
    const list = root.querySelector("#suggestions .suggested");
    if (!status || !list) return;
    const result = await tools.api("GET", `/api/v1/conversations/${conversationId}/suggestions`);
    if (!result.ok) { status.textContent = "Suggestions are not available now."; return; }
    if (!result.data.length) { status.textContent = "No article matches this conversation."; return; }
    for (const found of result.data) {
      const item = document.createElement("li");
      const link = document.createElement("a");
      link.href = found.url;
      link.target = "_blank";
      link.rel = "noopener";
      link.textContent = found.title;
      const excerpt = document.createElement("p");
      excerpt.className = "hint";
      excerpt.textContent = found.excerpt;
      item.append(link, excerpt);
      list.append(item);
    }
    status.textContent = "";
    status.hidden = true;
    list.hidden = false;
  }

  (window.tandemPages = window.tandemPages || []).push((tools) => {
    const root = document.getElementById("conversation");
    if (root) desk(root, tools);
  });
})();
