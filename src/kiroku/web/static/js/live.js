// Live streams: server-sent events pushed by the read side.
//
// Besides the data, a stream may say two things about itself. `end` (data
// {"reason": "member-removed" | "token-revoked" | "user-store-unreadable"}) means
// access ended: the stream is closed for good, never reconnected, and the page
// says why. `resume` ({"reason": "slow-consumer"}) asks the client to reconnect
// at once from the last event it saw, which it does.

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

/** Why a stream ended, for people. */
export const END_TEXT = {
  "member-removed": "You are no longer a member of this room.",
  "token-revoked": "Your access was revoked. Sign in again to continue.",
  "user-store-unreadable": "The server cannot check your access right now. Reload later.",
};

const reasonOf = (event) => {
  try {
    return JSON.parse(event.data).reason ?? "ended";
  } catch {
    return "ended";
  }
};

/**
 * An EventSource at url(lastId) that follows `end` and `resume`: on end it closes
 * and calls onEnd(reason); on resume it reconnects at once from the last id seen.
 * listen(source) adds the data listeners to each new source.
 */
function stream(url, { listen, onOpen, onError, onEnd }) {
  let source = null;
  let lastId = null;
  let ended = false;
  const open = () => {
    source = new EventSource(url(lastId));
    const current = source;
    listen(current, (event) => {
      if (event.lastEventId) lastId = event.lastEventId;
    });
    current.addEventListener("open", () => onOpen?.());
    current.addEventListener("error", () => {
      if (current === source && !ended) onError?.(current.readyState === EventSource.CLOSED);
    });
    current.addEventListener("end", (event) => {
      ended = true;
      current.close();
      onEnd?.(reasonOf(event));
    });
    current.addEventListener("resume", () => {
      current.close();
      if (!ended) open();
    });
  };
  open();
  return {
    close: () => {
      ended = true;
      source.close();
    },
    isOpen: () => !ended && source.readyState === EventSource.OPEN,
  };
}

/**
 * Follow the room at `path` from just after `version`. EventSource cannot send
 * headers, so the token goes in the query; on reconnect the browser sends
 * Last-Event-ID and the server resumes after it (a `resume` reconnects with
 * `after` set to the last id seen, the same thing).
 *
 * onEntry(entry) gets each decoded event (or null for an undecodable one);
 * onStatus("live" | "reconnecting" | "offline" | "ended"); onReconnect() after a
 * reconnect; onEnd(reason) when the server ended access. Returns {close, isOpen}.
 */
export function followRoom(path, version, { onEntry, onStatus, onReconnect, onEnd }) {
  const url = (lastId) => {
    const params = new URLSearchParams({
      access_token: getToken(),
      after: String(lastId ?? version ?? 0),
    });
    return `${path}/stream?${params}`;
  };
  let opened = false;
  return stream(url, {
    listen: (source, seen) => {
      const deliver = (event) => {
        seen(event);
        let entry = null;
        try {
          entry = JSON.parse(event.data);
        } catch {
          // fall through with null: the caller reloads instead
        }
        onEntry(entry && entry.type ? entry : null);
      };
      for (const name of EVENT_NAMES) source.addEventListener(name, deliver);
    },
    onOpen: () => {
      onStatus("live");
      if (opened) onReconnect();
      opened = true;
    },
    onError: (closed) => onStatus(closed ? "offline" : "reconnecting"),
    onEnd: (reason) => {
      onStatus("ended");
      onEnd?.(reason);
    },
  });
}

/**
 * Follow the caller's room list (GET /api/stream): the server pushes the whole
 * list, with last messages and unread counts, whenever it changes, so the counts
 * of rooms other than the open one stay current. Returns {close, isOpen}.
 */
export function followRoomList(onRooms, onEnd) {
  const url = () => `/api/stream?${new URLSearchParams({ access_token: getToken() })}`;
  return stream(url, {
    listen: (source, seen) =>
      source.addEventListener("rooms", (event) => {
        seen(event);
        let rooms = null;
        try {
          rooms = JSON.parse(event.data).rooms;
        } catch {
          return; // the next push carries the whole list again
        }
        if (Array.isArray(rooms)) onRooms(rooms);
      }),
    onEnd,
  });
}
