// The chat view: message search and the room list (with last message and unread
// count) beside the open room.

import { command, listOf, read } from "./api.js";
import { debounce, fill, h, timeEl } from "./dom.js";
import { followRoomList } from "./live.js";
import { renderRoom } from "./room.js";
import { searchBox } from "./search.js";
import { setTitleBase, setUnread } from "./title.js";

/** Render the chat into main; returns a cleanup function. */
export function renderChat(main, ctx, roomId) {
  const list = h("ul", { class: "room-list", id: "room-list", "aria-label": "Your rooms" });
  const roomPane = h("section", { class: "room-pane", id: "room-pane", "aria-label": "Room" });
  const sidebar = h(
    "nav",
    { class: "sidebar", "aria-labelledby": "rooms-title" },
    h("h2", { id: "rooms-title" }, "Rooms"),
    searchBox(ctx, (id) => rooms?.find((r) => r.room_id === id)?.name ?? null),
    createRoomForm(ctx),
    list,
  );
  fill(main, h("div", { class: "chat-layout" + (roomId ? " has-room" : "") }, sidebar, roomPane));

  let closed = false;
  let rooms = null; // the latest list, for unread counts
  let pushes = 0; // lists the server pushed; a read answered after a push is older
  // Other rooms' unread counts and last messages, pushed as they change.
  const showList = () => {
    fillRoomList(list, rooms, roomId);
    setUnread(rooms.reduce((sum, r) => sum + Number(r.unread ?? 0), 0));
  };
  const listStream = followRoomList((fresh) => {
    if (closed) return;
    pushes += 1;
    rooms = fresh;
    showList();
  });
  /** Read the list, unless the stream keeps it current (it pushes our own writes too). */
  const refreshList = debounce(async () => {
    if (pushes && listStream.isOpen()) return;
    const before = pushes;
    const answer = await ctx.attempt(() => read("/api/rooms"));
    if (closed || !answer || pushes !== before) return;
    rooms = listOf(answer, "rooms");
    showList();
  }, 150);
  /** A room's unread count from the latest list, or null when not known yet. */
  const unreadOf = (id) => {
    const room = rooms?.find((r) => r.room_id === id);
    return room ? Number(room.unread ?? 0) : null;
  };
  refreshList();

  let closeRoom = () => {};
  if (roomId) {
    closeRoom = renderRoom(roomPane, { ...ctx, refreshList, unreadOf }, roomId);
  } else {
    setTitleBase("Rooms · kiroku");
    fill(
      roomPane,
      h("div", { class: "empty" }, h("p", {}, "Pick a room on the left, or create one.")),
    );
  }
  return () => {
    closed = true;
    listStream.close();
    closeRoom();
  };
}

function fillRoomList(list, rooms, currentId) {
  if (!rooms.length) {
    fill(list, h("li", { class: "muted empty-list" }, "No rooms yet."));
    return;
  }
  fill(
    list,
    rooms.map((room) => roomItem(room, currentId)),
  );
}

function roomItem(room, currentId) {
  const id = room.room_id;
  const unread = Number(room.unread ?? 0);
  const last = room.last_message;
  const preview = !last
    ? h("span", { class: "muted" }, "No messages yet")
    : last.deleted
      ? h("span", { class: "muted" }, `${last.author}: message deleted`)
      : `${last.author}: ${last.body}`;
  return h(
    "li",
    {},
    h(
      "a",
      {
        href: `#/rooms/${encodeURIComponent(id)}`,
        class: "room-link" + (unread ? " unread" : "") + (room.archived ? " archived" : ""),
        "aria-current": id === currentId ? "page" : null,
        "data-room-id": id,
      },
      h(
        "span",
        { class: "room-line" },
        h("span", { class: "room-name" }, room.name),
        room.archived ? h("span", { class: "badge" }, "archived") : null,
        unread
          ? h(
              "span",
              { class: "badge unread-count", "aria-label": `${unread} unread` },
              String(unread),
            )
          : null,
      ),
      h("span", { class: "room-preview" }, preview),
      last ? timeEl(last.posted_at) : null,
    ),
  );
}

function createRoomForm(ctx) {
  const name = h("input", {
    id: "new-room-name",
    name: "name",
    required: true,
    maxlength: 100,
    placeholder: "New room name",
    autocomplete: "off",
  });
  const members = h("input", {
    id: "new-room-members",
    name: "members",
    placeholder: "Members (comma separated, optional)",
    autocomplete: "off",
  });
  const form = h(
    "form",
    { class: "create-room", "aria-label": "Create a room" },
    h("label", { for: "new-room-name", class: "visually-hidden" }, "Room name"),
    name,
    h("label", { for: "new-room-members", class: "visually-hidden" }, "Members"),
    members,
    h("button", { type: "submit" }, "Create room"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const invited = members.value
      .split(",")
      .map((m) => m.trim())
      .filter(Boolean);
    const body = { name: name.value.trim() };
    if (invited.length) body.members = invited;
    const created = await ctx.attempt(() => command("POST", "/api/rooms", body));
    if (!created) return;
    form.reset();
    // command() noted the position, so the room's first reads wait for its creation.
    ctx.navigate(`#/rooms/${encodeURIComponent(created.room_id)}`);
  });
  return form;
}
