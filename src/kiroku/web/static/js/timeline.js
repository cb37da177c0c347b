// The messages of one room, kept in order and updated in place as events arrive.

import { h, timeEl } from "./dom.js";

/** The short name of a stored event type: "chat.MessagePosted" -> "MessagePosted". */
export function shortType(type) {
  return String(type ?? "")
    .split(".")
    .pop();
}

/**
 * Messages by id plus their display order. Events from the live stream are
 * applied idempotently, so replaying one that a snapshot already contains is a
 * no-op: a post only adds an unknown message, edits and deletions set state.
 */
export class MessageStore {
  constructor() {
    this.byId = new Map();
    this.order = [];
  }

  /** Replace everything with a page read from the API (newest first). */
  reset(newestFirst) {
    this.byId.clear();
    this.order = [];
    this.addOlder(newestFirst);
  }

  /** Add an older page (newest first) in front of what is loaded. */
  addOlder(newestFirst) {
    const ids = [];
    for (const message of [...newestFirst].reverse()) {
      if (this.byId.has(message.message_id)) continue;
      this.byId.set(message.message_id, message);
      ids.push(message.message_id);
    }
    this.order = [...ids, ...this.order];
  }

  get oldestId() {
    return this.order[0];
  }

  get newestId() {
    return this.order[this.order.length - 1];
  }

  /** The id of the newest message whose author passes `test`. */
  newestFrom(test) {
    for (let i = this.order.length - 1; i >= 0; i -= 1) {
      const message = this.byId.get(this.order[i]);
      if (test(message.author)) return message.message_id;
    }
    return undefined;
  }

  messages() {
    return this.order.map((id) => this.byId.get(id));
  }

  /** Apply one room event (a history entry); returns whether a message changed. */
  apply(entry) {
    const data = entry.data || {};
    const id = data.message_id;
    switch (shortType(entry.type)) {
      case "MessagePosted":
        if (this.byId.has(id)) return false;
        this.byId.set(id, {
          message_id: id,
          author: data.author,
          body: data.body,
          posted_at: entry.occurred_at,
          edited_at: null,
          deleted: false,
        });
        this.order.push(id);
        return true;
      case "MessageEdited":
        return this.patch(id, { body: data.body, edited_at: entry.occurred_at });
      case "MessageDeleted":
        return this.patch(id, { body: "", deleted: true });
      default:
        return false;
    }
  }

  patch(id, change) {
    const message = this.byId.get(id);
    if (!message) return false;
    this.byId.set(id, { ...message, ...change });
    return true;
  }
}

/** A stable fingerprint of what a message looks like, to redraw only what changed. */
function look(message, actions) {
  return JSON.stringify([message.body, message.edited_at, message.deleted, actions]);
}

/**
 * Draw the store into an <ol>, reusing the element of every message whose look
 * did not change (so focus, selection and an open edit form survive updates).
 */
export function drawTimeline(ol, store, { me, owner, readOnly, editingId, onEdit, onDelete }) {
  const cache = ol._messageElements || new Map();
  const next = new Map();
  let index = 0;
  for (const message of store.messages()) {
    const mine = message.author === me;
    const actions =
      readOnly || message.deleted ? "" : `${mine ? "e" : ""}${mine || owner === me ? "d" : ""}`;
    const key = look(message, actions);
    let el = cache.get(message.message_id);
    const keep = el && (el._look === key || message.message_id === editingId);
    if (!keep) {
      const fresh = messageItem(message, { mine, actions, onEdit, onDelete });
      fresh._look = key;
      if (el) el.replaceWith(fresh);
      el = fresh;
    }
    if (ol.children[index] !== el) ol.insertBefore(el, ol.children[index] || null);
    next.set(message.message_id, el);
    index += 1;
  }
  while (ol.children.length > index) ol.lastElementChild.remove();
  ol._messageElements = next;
}

function messageItem(message, { mine, actions, onEdit, onDelete }) {
  const id = message.message_id;
  const edited = message.edited_at && !message.deleted;
  return h(
    "li",
    {
      class: "message" + (mine ? " mine" : "") + (message.deleted ? " deleted" : ""),
      id: `message-${id}`,
      "data-message-id": id,
    },
    h(
      "div",
      { class: "meta" },
      h("span", { class: "author" }, message.author),
      timeEl(message.posted_at),
      edited
        ? h("span", { class: "edited", title: `edited ${message.edited_at}` }, "(edited)")
        : null,
    ),
    message.deleted
      ? h("p", { class: "body muted" }, "This message was deleted.")
      : h("p", { class: "body" }, message.body),
    actions
      ? h(
          "div",
          { class: "actions" },
          actions.includes("e")
            ? h("button", { type: "button", class: "link", onclick: () => onEdit(id) }, "Edit")
            : null,
          actions.includes("d")
            ? h(
                "button",
                { type: "button", class: "link danger", onclick: () => onDelete(id) },
                "Delete",
              )
            : null,
        )
      : null,
  );
}

/** Replace a message's body with an edit form; resolves to the new text, or null if cancelled. */
export function editInPlace(li, body) {
  return new Promise((resolve) => {
    const old = li.querySelector(".body");
    const actions = li.querySelector(".actions");
    const id = `edit-${li.dataset.messageId}`;
    const area = h("textarea", { id, rows: 3, maxlength: 10000, required: true });
    area.value = body;
    const form = h(
      "form",
      { class: "edit-form" },
      h("label", { for: id, class: "visually-hidden" }, "Edit message"),
      area,
      h(
        "div",
        { class: "row" },
        h("button", { type: "submit", class: "primary" }, "Save"),
        h("button", { type: "button", class: "cancel" }, "Cancel"),
      ),
    );
    const done = (value) => {
      form.replaceWith(old);
      if (actions) actions.hidden = false;
      resolve(value);
    };
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      done(area.value);
    });
    form.querySelector(".cancel").addEventListener("click", () => done(null));
    area.addEventListener("keydown", (event) => {
      if (event.key === "Escape") done(null);
    });
    old.replaceWith(form);
    if (actions) actions.hidden = true;
    area.focus();
  });
}
