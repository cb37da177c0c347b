// The time slider: one step per event of the room, the last step is "now".

import { listOf, read } from "./api.js";
import { fill, fullTime, h } from "./dom.js";
import { shortType } from "./timeline.js";

/** A sentence for one audit-log entry: "alice posted a message". */
export function describe(entry) {
  const d = entry.data || {};
  const who = d.by || d.author || d.owner || d.user || "someone";
  switch (shortType(entry.type)) {
    case "RoomCreated":
      return `${d.owner ?? who} created the room “${d.name}”`;
    case "RoomRenamed":
      return `${who} renamed the room to “${d.name}”`;
    case "MemberAdded":
      return `${d.by ?? "someone"} added ${d.user}`;
    case "MemberRemoved":
      return `${d.by ?? "someone"} removed ${d.user}`;
    case "MessagePosted":
      return `${who} posted a message`;
    case "MessageEdited":
      return `${who} edited a message`;
    case "MessageDeleted":
      return `${who} deleted a message`;
    case "ReadMarked":
      return `${d.user ?? who} read the room`;
    case "RoomArchived":
      return `${who} archived the room`;
    default:
      return shortType(entry.type) || "an event";
  }
}

/**
 * A slider over `entries` (the room's history, oldest first). Moving it calls
 * onMoment(entry) with the chosen event, or onMoment(null) at the live end.
 * Returns {el, setEntries} so new events can extend the range while it is open.
 */
export function timeSlider(onMoment) {
  let entries = [];
  const slider = h("input", {
    type: "range",
    id: "time-slider",
    min: 0,
    max: 0,
    step: 1,
    value: 0,
    "aria-describedby": "time-label",
  });
  const label = h("output", { id: "time-label", for: "time-slider", class: "time-label" });
  const live = h("button", { type: "button", id: "back-to-live" }, "Back to live");
  const when = h("input", { type: "datetime-local", id: "time-jump", step: 1 });
  const jump = h(
    "form",
    { class: "jump" },
    h("label", { for: "time-jump" }, "Jump to a time"),
    when,
    h("button", { type: "submit" }, "Show"),
  );
  const el = h(
    "div",
    { class: "timetravel", id: "time-travel", role: "group", "aria-labelledby": "time-title" },
    h("label", { for: "time-slider", id: "time-title" }, "Room as of"),
    slider,
    live,
    label,
    jump,
  );

  const atLive = () => Number(slider.value) >= entries.length;
  const show = () => {
    const index = Number(slider.value);
    const entry = entries[index];
    const text = entry
      ? `Event ${index + 1} of ${entries.length}: ${describe(entry)} · ${fullTime(entry.occurred_at)} · position ${entry.position}`
      : `Now (live) · ${entries.length} events`;
    fill(label, text);
    slider.setAttribute("aria-valuetext", text);
    live.disabled = atLive();
  };
  let timer = null;
  slider.addEventListener("input", () => {
    show();
    clearTimeout(timer);
    timer = setTimeout(() => onMoment(atLive() ? null : entries[Number(slider.value)]), 120);
  });
  // A moment maps to the last event at or before it: the room's state then.
  jump.addEventListener("submit", (event) => {
    event.preventDefault();
    const moment = new Date(when.value);
    if (Number.isNaN(moment.getTime())) return;
    let index = -1;
    entries.forEach((entry, i) => {
      if (new Date(entry.occurred_at) <= moment) index = i;
    });
    if (index < 0) {
      fill(label, `The room did not exist yet on ${fullTime(moment.toISOString())}.`);
      return;
    }
    slider.value = String(index);
    show();
    onMoment(entries[index]);
  });
  live.addEventListener("click", () => {
    slider.value = String(entries.length);
    show();
    onMoment(null);
  });

  const setEntries = (list) => {
    const wasLive = atLive();
    entries = list;
    slider.max = String(entries.length);
    if (wasLive) slider.value = String(entries.length);
    show();
  };
  return { el, setEntries, focus: () => slider.focus() };
}

const HISTORY_PAGE = 1000;

/** A room's whole audit log, oldest first, read page by page. */
export async function readHistory(path) {
  const all = [];
  for (;;) {
    const after = all.length ? all[all.length - 1].version : 0;
    const answer = await read(`${path}/history`, { after, limit: HISTORY_PAGE });
    const page = listOf(answer, "events");
    all.push(...page);
    if (page.length < HISTORY_PAGE) return all;
  }
}
