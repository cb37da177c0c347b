// An open room's page: its elements and where they sit. The room fills them.

import { fill, h } from "./dom.js";

/** The room's own elements, empty; the members panel starts shown or not. */
export function roomElements(membersShown) {
  const older = h(
    "button",
    { type: "button", class: "link load-older", hidden: true },
    "Load older messages",
  );
  const ol = h("ol", { class: "timeline", id: "timeline", "aria-label": "Messages" });
  return {
    title: h("h2", { id: "room-title" }, "…"),
    headerActions: h("div", { class: "room-actions" }),
    banner: h("div", { class: "room-banner", id: "room-banner", hidden: true }),
    older,
    ol,
    scroller: h(
      "div",
      { class: "timeline-scroll", role: "log", "aria-live": "polite" },
      older,
      ol,
    ),
    membersPanel: h("aside", {
      class: "members-panel",
      id: "members-panel",
      "aria-labelledby": "members-title",
      hidden: !membersShown,
    }),
  };
}

/** Put the room into `pane` in reading order, with the parts made elsewhere. */
export function placeRoom(pane, el, { status, travel, jump, composer }) {
  fill(
    pane,
    h(
      "header",
      { class: "room-head" },
      h("a", { href: "#/rooms", class: "back link" }, "← Rooms"),
      el.title,
      status,
      el.headerActions,
    ),
    travel,
    el.banner,
    h(
      "div",
      { class: "room-body" },
      h("div", { class: "timeline-wrap" }, el.scroller, jump),
      el.membersPanel,
    ),
    composer,
  );
}

/** What the pane says when the room cannot be read (gone, or not one's own). */
export function placeMissingRoom(pane) {
  fill(
    pane,
    h(
      "div",
      { class: "empty" },
      h("p", {}, "This room cannot be shown."),
      h("a", { href: "#/rooms" }, "Back to your rooms"),
    ),
  );
}
