// The small forms of a room: the message composer and the rename field.

import { h } from "./dom.js";

/**
 * The composer. onSend(body) resolves truthy when the message was accepted, and
 * only then is the text cleared, so a rejected message is not lost.
 */
export function composerForm(onSend) {
  const area = h("textarea", {
    id: "composer",
    name: "body",
    rows: 2,
    maxlength: 10000,
    required: true,
    placeholder: "Write a message (Enter to send, Shift+Enter for a new line)",
  });
  const send = h("button", { type: "submit", class: "primary", id: "send" }, "Send");
  const form = h(
    "form",
    { class: "composer" },
    h("label", { for: "composer", class: "visually-hidden" }, "Message"),
    area,
    send,
  );
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = area.value;
    if (!body.trim()) return;
    send.disabled = true;
    const accepted = await onSend(body);
    send.disabled = area.disabled;
    if (accepted) area.value = "";
    area.focus();
  });
  const setDisabled = (off) => {
    area.disabled = off;
    send.disabled = off;
  };
  return { form, setDisabled };
}

/** An inline rename form; onSave(name) and onCancel() decide what happens next. */
export function renameForm(current, { onSave, onCancel }) {
  const input = h("input", {
    id: "rename-input",
    required: true,
    maxlength: 100,
    "aria-label": "New room name",
  });
  input.value = current;
  const form = h(
    "form",
    { class: "rename-form" },
    input,
    h("button", { type: "submit", class: "primary" }, "Save"),
    h("button", { type: "button", onclick: onCancel }, "Cancel"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSave(input.value.trim());
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") onCancel();
  });
  return { form, focus: () => input.select() };
}
