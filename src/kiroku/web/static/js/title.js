// The tab title: the view's name, led by the unread count, "(3) General · kiroku".

const parts = { base: "kiroku", unread: 0, unseen: 0 };

function draw() {
  const count = parts.unread + parts.unseen;
  document.title = count ? `(${count}) ${parts.base}` : parts.base;
}

/** The view's own title, e.g. "General · kiroku". */
export function setTitleBase(base) {
  parts.base = base;
  draw();
}

/** Unread messages in the caller's rooms, from the room list. */
export function setUnread(count) {
  parts.unread = Math.max(0, Number(count) || 0);
  draw();
}

/** Messages that arrived in the open room while the tab was hidden. */
export function setUnseen(count) {
  parts.unseen = Math.max(0, Number(count) || 0);
  draw();
}
