// Tandem console: an item's document beside the form (templates/_document.html). The page
// opens the document through the API (POST .../document/openings: recorded in the audit
// trail, it gives a ticket), then shows one page at a time, drawn on the server at the size
// the frame needs: previous and next, zoom, fit to width, rotate, by buttons and by keys
// that also work while typing in the form (Page Down/Up, Alt with +, -, 0 and R).
"use strict";

(function () {
  const ZOOMS = [0.5, 0.67, 0.8, 1, 1.25, 1.5, 2, 2.5, 3];
  const MIN_SCALE = 0.1, MAX_SCALE = 4;

  function viewer(root) {
    const itemId = root.dataset.documentItem;
    const frame = root.querySelector(".document-frame");
    const image = root.querySelector("[data-doc-image]");
    const numberShown = root.querySelector("[data-doc-number]");
    const pagesShown = root.querySelector("[data-doc-pages]");
    const zoomShown = root.querySelector("[data-doc-zoom]");
    const error = root.querySelector(".document-error");
    const state = { opened: null, number: 1, zoom: 1, rotate: 0 };

    function failed(message) {
      error.textContent = message;
      error.hidden = false;
    }

    // The scale the server draws at: the page fitted to the frame's width, times the zoom,
    // times the screen's pixel density (sharp on high-density screens), in steps of 0.05 so
    // that drawings are shared by nearby widths.
    function scales() {
      const opened = state.opened;
      const across = state.rotate % 180 ? opened.height : opened.width;
      const room = Math.max(200, frame.clientWidth - 16);
      const fit = room / across;
      const ratio = window.devicePixelRatio || 1;
      const draw = Math.min(MAX_SCALE, Math.max(MIN_SCALE, Math.round(fit * state.zoom * ratio * 20) / 20));
      return { draw, ratio };
    }

    function pageUrl(number) {
      const { draw } = scales();
      const query = new URLSearchParams({
        ticket: state.opened.ticket, number: String(number), scale: draw.toFixed(2),
        rotate: String(state.rotate),
      });
      return `/api/v1/work-items/${itemId}/document/page?${query}`;
    }

    function show() {
      const opened = state.opened;
      frame.setAttribute("aria-busy", "true");
      image.src = pageUrl(state.number);
      image.alt = `Page ${state.number} of ${opened.pages} of the document`;
      image.dataset.number = String(state.number);
      image.dataset.rotate = String(state.rotate);
      numberShown.textContent = String(state.number);
      zoomShown.textContent = `${Math.round(state.zoom * 100)}%`;
      root.querySelector("[data-doc=previous]").disabled = state.number <= 1;
      root.querySelector("[data-doc=next]").disabled = state.number >= opened.pages;
      if (state.number < opened.pages) {  // the next page drawn ahead: paging is instant
        const ahead = new Image();
        ahead.src = pageUrl(state.number + 1);
      }
    }

    image.addEventListener("load", () => {
      frame.removeAttribute("aria-busy");
      error.hidden = true;
      // Shown at its size in CSS pixels (drawn at the screen's density).
      image.style.width = `${image.naturalWidth / scales().ratio}px`;
    });
    image.addEventListener("error", () => {
      frame.removeAttribute("aria-busy");
      failed("This page could not be shown: reload the page (the lease may have ended).");
    });

    const actions = {
      previous() { if (state.number > 1) { state.number -= 1; show(); } },
      next() { if (state.number < state.opened.pages) { state.number += 1; show(); } },
      "zoom-in"() {
        const larger = ZOOMS.find((z) => z > state.zoom + 1e-9);
        if (larger) { state.zoom = larger; show(); }
      },
      "zoom-out"() {
        const smaller = [...ZOOMS].reverse().find((z) => z < state.zoom - 1e-9);
        if (smaller) { state.zoom = smaller; show(); }
      },
      fit() { state.zoom = 1; show(); },
      rotate() { state.rotate = (state.rotate + 90) % 360; show(); },
    };

    for (const button of root.querySelectorAll("[data-doc]")) {
      button.addEventListener("click", () => { if (state.opened) actions[button.dataset.doc](); });
    }

    document.addEventListener("keydown", (event) => {
      if (!state.opened || event.ctrlKey || event.metaKey) return;
      let action = null;
      if (!event.altKey && !event.shiftKey) {
        if (event.key === "PageDown") action = "next";
        else if (event.key === "PageUp") action = "previous";
      } else if (event.altKey) {  // by the key's place, whatever the layout makes of Alt
        action = {
          Equal: "zoom-in", NumpadAdd: "zoom-in", Minus: "zoom-out", NumpadSubtract: "zoom-out",
          Digit0: "fit", Numpad0: "fit", KeyR: "rotate",
        }[event.code] || null;
      }
      if (!action && document.activeElement === frame && !event.altKey) {
        action = { "+": "zoom-in", "=": "zoom-in", "-": "zoom-out", "0": "fit", r: "rotate",
                   ArrowRight: "next", ArrowLeft: "previous" }[event.key] || null;
      }
      if (action) {
        event.preventDefault();
        actions[action]();
      }
    });

    async function open() {
      const response = await fetch(`/api/v1/work-items/${itemId}/document/openings`, {
        method: "POST", credentials: "same-origin",
      });
      if (response.status === 404) return;  // no document: nothing to show
      root.hidden = false;
      if (!response.ok) {
        let detail = "";
        try { detail = (await response.json()).detail || ""; } catch (_) { detail = ""; }
        failed(detail || `The document could not be opened (error ${response.status}).`);
        return;
      }
      state.opened = await response.json();
      pagesShown.textContent = String(state.opened.pages);
      root.dataset.opened = "true";
      show();
    }

    let resized = null;
    window.addEventListener("resize", () => {
      clearTimeout(resized);
      resized = setTimeout(() => { if (state.opened) show(); }, 250);
    });
    open();
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const root of document.querySelectorAll("[data-document-item]")) viewer(root);
  });
})();
