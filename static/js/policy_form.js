// The policy form shows the settings of the chosen type only. Without this script every
// group shows, each labelled with the type it belongs to; the server ignores the others.
(function () {
  "use strict";
  const form = document.querySelector("[data-policy-form]");
  if (!form) return;
  const groups = form.querySelectorAll("[data-policy-type]");

  function showChosenType() {
    const chosen = form.querySelector('input[name="type"]:checked');
    groups.forEach((group) => {
      group.hidden = Boolean(chosen) && group.dataset.policyType !== chosen.value;
    });
  }

  form.addEventListener("change", (event) => {
    if (event.target.name === "type") showChosenType();
  });
  showChosenType();
})();
