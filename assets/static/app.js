// Small progressive enhancements; every page works without them. No inline scripts: the
// Content-Security-Policy allows only this file.
"use strict";

// Ask before destructive actions. The question comes translated from the server in data-confirm, so this
// file holds no text of its own.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});

// After a refused form, put the keyboard where the problem is: on the first field marked invalid (its
// aria-describedby points at the error, so screen readers read both), or else on the error message itself.
document.addEventListener("DOMContentLoaded", () => {
  const field = document.querySelector("main [aria-invalid='true']");
  const error = document.getElementById("form-error");
  if (field) {
    field.focus();
  } else if (error) {
    error.setAttribute("tabindex", "-1");
    error.focus();
  }
});

// The navigation's menu buttons are <details> holding only their <summary>; what each opens is the element
// right after it, shown by CSS while it is open (so they work without this file). An open one closes when
// people click outside both, or press Escape; Escape puts the keyboard back on its button. A button that is
// hidden ("More" inside the phone menu, the menu button on a wide screen) is left alone.
const openMenus = () =>
  [...document.querySelectorAll(".topbar details[open]")].filter(
    (menu) => menu.querySelector(":scope > summary").getClientRects().length > 0,
  );
document.addEventListener("click", (event) => {
  for (const menu of openMenus()) {
    const opened = menu.nextElementSibling;
    if (!menu.contains(event.target) && !(opened && opened.contains(event.target))) {
      menu.open = false;
    }
  }
});
document.addEventListener("keydown", (event) => {
  const menu = event.key === "Escape" && openMenus().pop();
  if (menu) {
    menu.open = false;
    menu.querySelector(":scope > summary").focus();
  }
});

// A page whose figures are still moving (messages on their way) reloads itself after data-reload-after
// seconds, unless someone is typing in it. Not a <meta http-equiv="refresh">: that one cannot be paused and
// screen readers lose their place.
document.addEventListener("DOMContentLoaded", () => {
  const marker = document.querySelector("[data-reload-after]");
  if (!marker) {
    return;
  }
  window.setTimeout(() => {
    const typing = document.activeElement && document.activeElement.matches("input, textarea, select");
    if (!typing) {
      window.location.reload();
    }
  }, Number(marker.dataset.reloadAfter) * 1000);
});
