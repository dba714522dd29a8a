// The Templates page, enhanced: the header's text field shows only for a text header, one example field
// per variable of the body appears as the body is written, and while a template waits for Meta's
// review the lists are refreshed every few seconds (the form is left as it is). Without this file the
// page works the same with a submit and a reload.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("template-form");
  if (form) {
    const header = () => {
      const checked = form.querySelector("input[name='header']:checked");
      form.dataset.header = checked ? checked.value : "none";
    };
    form.addEventListener("change", (event) => {
      if (event.target.name === "header") header();
    });
    header();

    const body = document.getElementById("t-body");
    const fields = document.getElementById("t-example-fields");
    const variables = (text) => {
      const seen = new Set();
      for (const match of text.matchAll(/\{\{\s*(\d+)\s*\}\}/g)) seen.add(Number(match[1]));
      return seen.size;
    };
    const examples = () => {
      const wanted = variables(body.value);
      const inputs = fields.querySelectorAll("input");
      const described = body.getAttribute("aria-describedby") ? "t-body-examples-hint" : "";
      for (let i = inputs.length; i < wanted; i += 1) {
        const n = i + 1;
        const label = document.createElement("label");
        label.htmlFor = `t-example-${n}`;
        const code = document.createElement("span");
        code.className = "ltr";
        code.textContent = `{{${n}}}`;
        label.append(`${fields.dataset.label} `, code);
        const input = document.createElement("input");
        input.id = `t-example-${n}`;
        input.name = "body_examples";
        input.dir = "auto";
        if (described) input.setAttribute("aria-describedby", described);
        fields.append(label, input);
      }
      for (let i = inputs.length - 1; i >= wanted; i -= 1) {
        if (inputs[i].value.trim() !== "") break;
        const label = fields.querySelector(`label[for='${inputs[i].id}']`);
        if (label) label.remove();
        inputs[i].remove();
      }
    };
    if (body && fields) {
      body.addEventListener("input", examples);
      examples();
    }
  }

  // While a review is pending, take the new lists from the server without touching the form.
  const refresh = async () => {
    if (!document.querySelector(".template-number[data-pending='true']")) return;
    try {
      const response = await fetch("/templates", { credentials: "same-origin" });
      if (response.ok) {
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
        for (const section of document.querySelectorAll(".template-number")) {
          const replacement = fresh.getElementById(section.id);
          if (replacement) section.replaceWith(replacement);
        }
      }
    } catch (_) {
      // Offline for a moment: the next round tries again.
    }
    window.setTimeout(refresh, 3000);
  };
  window.setTimeout(refresh, 3000);
});
