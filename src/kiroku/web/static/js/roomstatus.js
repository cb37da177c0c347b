// The dot beside a room's name: the live stream's state AND the read side's
// health. A stream can be connected while projections are failed or behind,
// and then new messages (one's own included) do not show: the dot says
// "Messages are delayed" instead of a green "Live".

import { h } from "./dom.js";
import { watchHealth } from "./health.js";
import { END_TEXT } from "./live.js";

const TEXT = {
  connecting: "Connecting…",
  live: "Live",
  delayed: "Messages are delayed",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  ended: "Disconnected",
};

/** The status element and its setters; onHealth(delayed) runs when health changes. */
export function roomStatus(onHealth) {
  const el = h("span", { class: "live-status off", id: "live-status", role: "status" });
  const s = { stream: "connecting", delayed: false, health: null };
  function draw() {
    const state = s.stream === "live" && s.delayed ? "delayed" : s.stream;
    el.textContent = TEXT[state];
    el.className = `live-status ${state === "live" ? "on" : state === "delayed" ? "warn" : "off"}`;
    const lagging = s.health ? [...s.health.failing, ...s.health.behind] : [];
    el.title = state === "delayed" ? `Not up to date: ${lagging.join(", ")}` : "";
  }
  const stop = watchHealth((health) => {
    s.health = health;
    s.delayed = health.delayed;
    draw();
    onHealth(health.delayed);
  });
  draw();
  return {
    el,
    delayed: () => s.delayed,
    setStream(state) {
      s.stream = state;
      draw();
    },
    close: stop,
  };
}

/** What the page says when the server ended the stream. */
export const endedText = (reason) => END_TEXT[reason] ?? "Live updates ended.";
