// Small progressive enhancements; every page works without them.

// Legacy: a <select data-navigate> goes to the chosen option's URL.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-navigate]");
  if (select) window.location.assign(select.value);
});

// Copy buttons: <button data-copy="element-id">.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  const text = source.value !== undefined ? source.value : source.textContent;
  try {
    await navigator.clipboard.writeText(text.trim());
    button.textContent = "Copied";
  } catch {
    if (source.select) source.select();
    button.textContent = "Press Ctrl+C";
  }
  setTimeout(() => (button.textContent = "Copy"), 2000);
});

// Header menus (<details data-menu>): one open at a time; a click outside or Escape
// closes them, and Escape returns the focus to the menu's button.
document.addEventListener("click", (event) => {
  document.querySelectorAll("details[data-menu][open]").forEach((menu) => {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  });
});
document.addEventListener("keydown", (event) => {
  if (event.key !== "Escape") return;
  document.querySelectorAll("details[data-menu][open]").forEach((menu) => {
    menu.removeAttribute("open");
    menu.querySelector("summary").focus();
  });
});

// Destructive forms ask first: <form data-confirm="Delete …?">.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

// Tables on phones: each cell is labelled with its column's header, and the table marked
// `stackable`, so that the CSS can show each row as a card of "header: value" lines.
// Without this script the table scrolls sideways inside its own box.
function headerText(th) {
  const text = th.textContent.trim();
  const hidden = th.querySelector(".visually-hidden");
  return hidden && hidden.textContent.trim() === text ? "" : text; // e.g. "Actions"
}
function labelTables(root) {
  root.querySelectorAll(".table-wrap > table").forEach((table) => {
    const headers = Array.from(table.querySelectorAll("thead th"), headerText);
    if (!headers.length) return;
    table.querySelectorAll("tbody tr").forEach((row) => {
      Array.from(row.children).forEach((cell, index) => {
        cell.dataset.label = headers[index] || "";
      });
    });
    table.classList.add("stackable");
  });
}
labelTables(document);
document.addEventListener("htmx:afterSettle", () => labelTables(document));

// A chart wider than its card (on a phone) opens on its latest steps, at the right.
document.querySelectorAll(".chart-card").forEach((card) => {
  card.scrollLeft = card.scrollWidth;
});
