// New message, enhanced: only the chosen type's fields show; the template picker offers the chosen
// number's approved templates and the chosen template's languages, enables only that template's
// variable fields, and fills its bubble as they are typed; the preview bubble of other types follows
// the text being written. Without this file, "Continue" and "Use this template" do the same on the
// server.
"use strict";

document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("compose-form");
  if (!form) return;
  const kind = () => (form.querySelector("input[name='kind']:checked") || { value: "text" }).value;
  const number = document.getElementById("connection-id");
  const names = document.getElementById("template-name");
  const languages = document.getElementById("template-language");
  const choices = [...form.querySelectorAll("fieldset.template-choice")];
  const previews = [...document.querySelectorAll(".template-preview")];
  const plain = document.getElementById("plain-preview");

  const option = (value, text, selected) => {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = text;
    o.selected = selected;
    return o;
  };

  // The template the selects name; its fields enabled and its bubble shown (when the type is template).
  const showTemplate = () => {
    const isTemplate = kind() === "template";
    let shown = null;
    for (const choice of choices) {
      const on = choice.dataset.connection === number.value && choice.dataset.name === names.value &&
        choice.dataset.language === languages.value;
      choice.hidden = !on;
      choice.disabled = !on;
      if (on) shown = choice;
    }
    for (const preview of previews) {
      preview.hidden = !(isTemplate && shown && preview.dataset.connection === shown.dataset.connection &&
        preview.dataset.name === shown.dataset.name && preview.dataset.language === shown.dataset.language);
    }
    if (plain) plain.hidden = isTemplate;
  };

  const fillLanguages = () => {
    if (!languages) return;
    const current = languages.value;
    const of = choices.filter((c) => c.dataset.connection === number.value && c.dataset.name === names.value);
    languages.replaceChildren(...of.map((c) => option(c.dataset.language, c.dataset.languageName, c.dataset.language === current)));
    showTemplate();
  };

  const fillNames = () => {
    if (!names) return;
    const current = names.value;
    const seen = [];
    for (const c of choices) {
      if (c.dataset.connection === number.value && !seen.includes(c.dataset.name)) seen.push(c.dataset.name);
    }
    names.replaceChildren(...seen.map((n) => option(n, n, n === current)));
    fillLanguages();
  };

  const showKind = () => {
    const chosen = kind();
    form.dataset.kind = chosen;
    for (const group of form.querySelectorAll(".kind-group")) {
      group.hidden = !group.dataset.kinds.split(" ").includes(chosen);
    }
    showTemplate();
    plainPreview();
  };

  // The preview bubble of every type but a template: the visible field that carries its text.
  const plainPreview = () => {
    if (!plain) return;
    const text = plain.querySelector(".bubble-text");
    const source = [...form.querySelectorAll("[data-preview='body']")].find((f) => !f.closest("[hidden]"));
    if (text) text.textContent = source ? source.value : "";
  };

  form.addEventListener("change", (event) => {
    if (event.target.name === "kind") showKind();
    if (event.target === number) fillNames();
    if (event.target === names) fillLanguages();
    if (event.target === languages) showTemplate();
  });

  form.addEventListener("input", (event) => {
    const field = event.target;
    if (field.dataset.preview === "body") plainPreview();
    const choice = field.closest("fieldset.template-choice");
    if (!choice || !field.dataset.var) return;
    const preview = previews.find((p) => p.dataset.connection === choice.dataset.connection &&
      p.dataset.name === choice.dataset.name && p.dataset.language === choice.dataset.language);
    if (!preview) return;
    const n = field.dataset.var.split("-")[1];
    for (const slot of preview.querySelectorAll(`[data-var='${field.dataset.var}']`)) {
      const value = field.value.trim();
      slot.textContent = value === "" ? `{{${n}}}` : value;
      slot.classList.toggle("filled", value !== "");
    }
  });

  if (number && names) fillNames();
  showKind();
});
