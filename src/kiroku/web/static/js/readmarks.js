// Marking a room read: up to the newest message from someone else, and only when
// something is unread, because each read mark is an event in the room's stream.

import { command } from "./api.js";
import { debounce } from "./dom.js";

/**
 * `unreadOf()` is the room list's unread count (null until the list is read),
 * `newest()` the id of the newest message from someone else, `canMark()` whether
 * the room is live, shown, and the user still a member.
 */
export function readMarker({ path, unreadOf, newest, canMark, onMarked }) {
  let markedFor = null;
  let unread = null; // null: not known yet; ask the room list
  const mark = debounce(() => {
    if (unread === null && unreadOf() !== null) unread = unreadOf() > 0;
    const id = newest();
    if (unread === false || !id || id === markedFor || document.hidden || !canMark()) return;
    markedFor = id;
    unread = false;
    command("POST", `${path}/read`, { message_id: id }).then(onMarked, () => {
      markedFor = null; // a failed read mark is not worth a notice; the next one retries
      unread = true;
    });
  }, 400);
  document.addEventListener("visibilitychange", mark);
  return {
    mark,
    /** Someone else posted: there is something to mark. */
    arrived: () => {
      unread = true;
    },
    close: () => document.removeEventListener("visibilitychange", mark),
  };
}
