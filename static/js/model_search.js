// The model search combobox of the New model API and Edit pages (WAI-ARIA combobox with
// a listbox popup). htmx fills the listbox with the catalog search fragment as one types;
// this script adds the keyboard (arrows, Enter, Escape), mouse picking and the summary.
(function () {
  "use strict";

  function setText(id, text) {
    const element = document.getElementById(id);
    if (element) element.textContent = text;
  }

  function setup(container) {
    const input = container.querySelector('[role="combobox"]');
    const listbox = document.getElementById(input.getAttribute("aria-controls"));
    let active = -1;

    const options = () =>
      Array.from(listbox.querySelectorAll('[role="option"]:not([aria-disabled="true"])'));

    function show(open) {
      const hasItems = listbox.querySelector('[role="option"]') !== null;
      listbox.hidden = !(open && hasItems);
      input.setAttribute("aria-expanded", listbox.hidden ? "false" : "true");
      if (listbox.hidden) setActive(-1);
    }

    function setActive(index) {
      const items = options();
      active = index;
      items.forEach((item, i) => {
        const selected = i === index;
        item.setAttribute("aria-selected", selected ? "true" : "false");
        item.classList.toggle("is-active", selected);
      });
      if (index >= 0 && items[index]) {
        input.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function pick(option) {
      // A search still on its way must not reopen the list over the choice.
      if (window.htmx) window.htmx.trigger(input, "htmx:abort");
      input.value = option.dataset.modelId;
      setText("summary-model", option.dataset.modelId);
      setText("summary-context", option.dataset.context || "—");
      setText("summary-price", option.dataset.price || "—");
      show(false);
      input.focus();
    }

    input.addEventListener("keydown", (event) => {
      const items = options();
      switch (event.key) {
        case "ArrowDown":
          event.preventDefault();
          if (listbox.hidden) show(true);
          if (items.length) setActive(Math.min(active + 1, items.length - 1));
          break;
        case "ArrowUp":
          event.preventDefault();
          if (items.length) setActive(Math.max(active - 1, 0));
          break;
        case "Enter":
          // While the list is open, Enter picks (the highlighted model, else the best
          // match) rather than submitting a half-typed model id with the form.
          if (!listbox.hidden && items.length) {
            event.preventDefault();
            pick(items[active >= 0 ? active : 0]);
          }
          break;
        case "Escape":
          if (!listbox.hidden) {
            event.preventDefault();
            show(false);
          }
          break;
      }
    });

    input.addEventListener("input", () => {
      setText("summary-model", input.value.trim() || "—");
      setText("summary-context", "—");
      setText("summary-price", "—");
    });

    // Keep the focus in the input when an option is clicked.
    listbox.addEventListener("mousedown", (event) => event.preventDefault());
    listbox.addEventListener("click", (event) => {
      const option = event.target.closest('[role="option"]');
      if (option && option.getAttribute("aria-disabled") !== "true") pick(option);
    });
    input.addEventListener("blur", () => show(false));

    // New results keep the highlighted model highlighted when it is still among them.
    let highlighted = null;
    document.body.addEventListener("htmx:beforeSwap", (event) => {
      if (event.detail.target !== listbox) return;
      const items = options();
      highlighted = active >= 0 && items[active] ? items[active].dataset.modelId : null;
    });
    document.body.addEventListener("htmx:afterSwap", (event) => {
      if (event.detail.target !== listbox) return;
      show(document.activeElement === input);
      const index = options().findIndex((item) => item.dataset.modelId === highlighted);
      setActive(listbox.hidden ? -1 : index);
    });
  }

  function setupSummary() {
    const panel = document.querySelector(".summary-panel");
    if (!panel) return;
    const name = document.getElementById("id_name");
    if (name) {
      name.addEventListener("input", () => setText("summary-name", name.value.trim() || "<name>"));
    }
    const connection = document.getElementById("id_connection");
    if (connection && connection.tagName === "SELECT") {
      connection.addEventListener("change", () => {
        setText("summary-connection", connection.options[connection.selectedIndex].text);
      });
    }
  }

  function init() {
    document.querySelectorAll("[data-model-combobox]").forEach(setup);
    setupSummary();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
