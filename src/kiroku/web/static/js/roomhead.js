// A room's header buttons and the banner under it (archived, or shown as of the past).

import { fill, fullTime, h } from "./dom.js";

function toggle(id, controls, expanded, onclick, label) {
  const attrs = {
    type: "button",
    id,
    "aria-controls": controls,
    "aria-expanded": String(expanded),
  };
  return h("button", { ...attrs, onclick }, label);
}

/**
 * Fill `actions` with the room's buttons: Members and History toggles for
 * everyone, Rename for members, Archive for the owner; only the toggles while
 * the room is read-only. `on` holds the click handlers.
 */
export function drawRoomActions(actions, room, { me, readOnly, membersShown, historyShown, on }) {
  fill(
    actions,
    toggle(
      "toggle-members",
      "members-panel",
      membersShown,
      on.members,
      `Members (${room.members?.length ?? 0})`,
    ),
    toggle("toggle-history", "time-travel", historyShown, on.history, "History"),
    readOnly
      ? null
      : h("button", { type: "button", id: "rename-room", onclick: on.rename }, "Rename"),
    readOnly || room.owner !== me
      ? null
      : h(
          "button",
          { type: "button", class: "danger", id: "archive-room", onclick: on.archive },
          "Archive",
        ),
  );
}

/** Say why the room is read-only, if it is: shown as of a past event, or archived. */
export function drawBanner(banner, room, asOf) {
  banner.hidden = !asOf && !room.archived;
  banner.className = "room-banner" + (asOf ? " past" : "");
  fill(
    banner,
    asOf
      ? `You are looking at the room as it was on ${fullTime(asOf.occurred_at)} ` +
          `(position ${asOf.position}). It is read-only until you go back to live.`
      : room.archived
        ? "This room is archived; it is read-only."
        : "",
  );
}
