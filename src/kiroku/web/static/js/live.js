// A room's live stream: server-sent events pushed by the read side.

import { getToken } from "./api.js";

// The server names each SSE event after the stored event type; unnamed events
// arrive as "message". EventSource only delivers names it was told about.
const EVENT_NAMES = [
  "message",
  ...[
    "RoomCreated",
    "RoomRenamed",
    "MemberAdded",
    "MemberRemoved",
    "MessagePosted",
    "MessageEdited",
    "MessageDeleted",
    "ReadMarked",
    "RoomArchived",
  ].map((name) => `chat.${name}`),
];

/**
 * Follow the room at `path` from just after `version`. EventSource cannot send
 * headers, so the token goes in the query; on reconnect the browser sends
 * Last-Event-ID and the server resumes after it.
 *
 * onEntry(entry) gets each decoded event (or null for an undecodable one);
 * onStatus("live" | "reconnecting" | "offline"); onReconnect() after a reconnect.
 * Returns the EventSource (close it to stop).
 */
export function followRoom(path, version, { onEntry, onStatus, onReconnect }) {
  const params = new URLSearchParams({ access_token: getToken(), after: String(version ?? 0) });
  const source = new EventSource(`${path}/stream?${params}`);
  const deliver = (event) => {
    let entry = null;
    try {
      entry = JSON.parse(event.data);
    } catch {
      // fall through with null: the caller reloads instead
    }
    onEntry(entry && entry.type ? entry : null);
  };
  for (const name of EVENT_NAMES) source.addEventListener(name, deliver);
  let opened = false;
  source.addEventListener("open", () => {
    onStatus("live");
    if (opened) onReconnect();
    opened = true;
  });
  source.addEventListener("error", () => {
    onStatus(source.readyState === EventSource.CLOSED ? "offline" : "reconnecting");
  });
  return source;
}

/**
 * Follow the caller's room list (GET /api/stream): the server pushes the whole
 * list, with last messages and unread counts, whenever it changes, so the counts
 * of rooms other than the open one stay current. Returns the EventSource.
 */
export function followRoomList(onRooms) {
  const params = new URLSearchParams({ access_token: getToken() });
  const source = new EventSource(`/api/stream?${params}`);
  source.addEventListener("rooms", (event) => {
    let rooms = null;
    try {
      rooms = JSON.parse(event.data).rooms;
    } catch {
      return; // the next push carries the whole list again
    }
    if (Array.isArray(rooms)) onRooms(rooms);
  });
  return source;
}
