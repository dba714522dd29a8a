// Copy buttons: <button type="button" data-copy="the text" data-copied="Copied" hidden>Copy</button>
// beside a value puts the text on the clipboard. The buttons stay hidden where JavaScript or the clipboard
// is missing: the values are plain text that can be selected and copied by hand.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  if (!navigator.clipboard || !window.isSecureContext) {
    return;
  }
  for (const button of document.querySelectorAll("button[data-copy]")) {
    button.hidden = false;
    const label = button.textContent;
    button.addEventListener("click", () => {
      navigator.clipboard.writeText(button.dataset.copy).then(
        () => {
          button.textContent = button.dataset.copied || label;
          button.classList.add("copied");
          window.setTimeout(() => {
            button.textContent = label;
            button.classList.remove("copied");
          }, 2000);
        },
        () => {
          // Refused (no permission): the value stays selectable by hand.
        },
      );
    });
  }
});
