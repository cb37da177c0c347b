// Message search over the caller's rooms (GET /api/search, the full-text read
// model). Each result links to its room; room names come from the room list the
// sidebar already holds, so a search costs one request.

import { listOf, read } from "./api.js";
import { fill, h, timeEl } from "./dom.js";

const MAX_QUERY = 200; // what the server accepts

/** A search form and its results; ``roomName(id)`` names a result's room. */
export function searchBox(ctx, roomName) {
  const input = h("input", {
    id: "search-query",
    name: "q",
    type: "search",
    maxlength: MAX_QUERY,
    placeholder: "Search messages",
    autocomplete: "off",
  });
  const results = h("div", { id: "search-results", "aria-live": "polite" });
  const form = h(
    "form",
    { class: "search-form", role: "search" },
    h("label", { for: "search-query", class: "visually-hidden" }, "Search messages"),
    input,
    h("button", { type: "submit" }, "Search"),
  );
  let asked = 0; // answers to superseded searches are dropped

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const q = input.value.trim();
    const ticket = ++asked;
    if (!q) {
      fill(results);
      return;
    }
    const answer = await ctx.attempt(() => read("/api/search", { q }));
    if (!answer || ticket !== asked) return;
    drawResults(results, q, listOf(answer, "results"), roomName);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    input.value = "";
    asked++;
    fill(results);
  });
  return h("div", { class: "search" }, form, results);
}

function drawResults(container, q, rows, roomName) {
  if (!rows.length) {
    fill(container, h("p", { class: "muted small" }, `No messages match “${q}”.`));
    return;
  }
  const item = (r) =>
    h(
      "li",
      {},
      h(
        "a",
        {
          href: `#/rooms/${encodeURIComponent(r.room_id)}`,
          class: "search-hit",
          "data-room-id": r.room_id,
          "data-message-id": r.message_id,
        },
        h("span", { class: "search-room" }, roomName(r.room_id) ?? r.room_id),
        h("span", { class: "search-body" }, `${r.author}: ${r.body}`),
        timeEl(r.posted_at),
      ),
    );
  fill(
    container,
    h("p", { class: "muted small" }, `${rows.length} ${rows.length === 1 ? "match" : "matches"}`),
    h("ul", { class: "search-results", "aria-label": "Search results" }, rows.map(item)),
  );
}
