// The messages of one room, kept in order and updated in place as events arrive.

import { h } from "./dom.js";
import { minuteOf, relativeTime, richText } from "./format.js";

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
        if (this.byId.get(id)?.pending) return this.patch(id, { pending: null });
        if (this.byId.has(id)) return false;
        if (this.adopt(id, data)) return true;
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

  /** Show one's own message at once, before the write side has answered. */
  addPending(tempId, message) {
    this.byId.set(tempId, { ...message, message_id: tempId, pending: "sending" });
    this.order.push(tempId);
  }

  /**
   * The write side accepted it at ``position``: the message takes its real id
   * and waits, marked as sent, for the read side to confirm it (``apply``).
   */
  confirmSent(tempId, id, position) {
    const message = this.byId.get(tempId);
    this.dropPending(tempId);
    if (!message || this.byId.has(id)) return; // the live stream was quicker
    this.byId.set(id, { ...message, message_id: id, pending: "sent", position });
    this.order.push(id);
  }

  /** The stream was quicker than the write's answer: the message sent takes the real id. */
  adopt(id, data) {
    const at = this.order.findIndex((x) => {
      const m = this.byId.get(x);
      return m.pending === "sending" && m.author === data.author && m.body === data.body;
    });
    if (at < 0) return false;
    const tempId = this.order[at];
    const message = this.byId.get(tempId);
    this.byId.delete(tempId);
    this.byId.set(id, { ...message, message_id: id, pending: null });
    this.order[at] = id;
    return true;
  }

  dropPending(tempId) {
    if (!this.byId.delete(tempId)) return;
    this.order = this.order.filter((x) => x !== tempId);
  }

  patch(id, change) {
    const message = this.byId.get(id);
    if (!message) return false;
    this.byId.set(id, { ...message, ...change });
    return true;
  }
}

/** A stable fingerprint of what a message looks like, to redraw only what changed. */
function look(message, actions, grouped, firstNew, delayed) {
  const waiting = message.pending ? `${message.pending}${delayed ? "!" : ""}` : "";
  return JSON.stringify([
    message.body,
    message.edited_at,
    message.deleted,
    actions,
    grouped,
    firstNew,
    waiting,
  ]);
}

/** Whether a message continues the previous one: same author, same minute. */
const continues = (message, previous) =>
  Boolean(previous) &&
  previous.author === message.author &&
  minuteOf(previous.posted_at) === minuteOf(message.posted_at) &&
  !previous.deleted &&
  !message.deleted;

/**
 * Draw the store into an <ol>, reusing the element of every message whose look
 * did not change (so focus, selection and an open edit form survive updates).
 */
export function drawTimeline(
  ol,
  store,
  { me, owner, readOnly, editingId, onEdit, onDelete, firstNewId = null, delayed = false },
) {
  const cache = ol._messageElements || new Map();
  const next = new Map();
  let index = 0;
  let previous = null;
  for (const message of store.messages()) {
    const mine = message.author === me;
    const settled = !readOnly && !message.deleted && !message.pending;
    const actions = settled ? `${mine ? "e" : ""}${mine || owner === me ? "d" : ""}` : "";
    const grouped = continues(message, previous) && message.message_id !== firstNewId;
    const firstNew = message.message_id === firstNewId;
    previous = message;
    const key = look(message, actions, grouped, firstNew, delayed);
    let el = cache.get(message.message_id);
    const keep = el && (el._look === key || message.message_id === editingId);
    if (!keep) {
      const shown = { mine, actions, onEdit, onDelete, grouped, firstNew, delayed };
      const fresh = messageItem(message, shown);
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

/** What an own message waiting for the read side says under it. */
function waiting(message, delayed) {
  if (!message.pending) return null;
  const text =
    message.pending === "sending"
      ? "Sending…"
      : `Sent (position ${message.position})` +
        (delayed ? " · messages are delayed: it will appear when the read side catches up" : "");
  return h("div", { class: `pending-note small ${delayed ? "warn-text" : "muted"}` }, text);
}

function messageItem(message, { mine, actions, onEdit, onDelete, grouped, firstNew, delayed }) {
  const id = message.message_id;
  const edited = message.edited_at && !message.deleted;
  const classes = ["message"];
  if (mine) classes.push("mine");
  if (message.deleted) classes.push("deleted");
  if (grouped) classes.push("grouped");
  if (firstNew) classes.push("first-new");
  if (message.pending) classes.push("pending");
  return h(
    "li",
    {
      class: classes.join(" "),
      id: `message-${id}`,
      "data-message-id": id,
      "data-pending": message.pending || null,
    },
    h(
      "div",
      { class: "meta" },
      h("span", { class: "author" }, message.author),
      relativeTime(message.posted_at),
      edited
        ? h("span", { class: "edited", title: `edited ${message.edited_at}` }, "(edited)")
        : null,
    ),
    message.deleted
      ? h("p", { class: "body muted" }, "This message was deleted.")
      : h("p", { class: "body" }, richText(message.body)),
    waiting(message, delayed),
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
