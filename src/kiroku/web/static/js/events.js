// The event browser: the journal page by page, optionally one stream, and each
// event with its consumption ledger (which consumer did what with it, and when),
// and a Retract action that voids the opened event and shows the blast radius.

import { command, get, listOf } from "./api.js";
import { dataTable, fill, h, json, slug, timeEl } from "./dom.js";

const EVENT_PAGE = 50;
const SYSTEM_PREFIX = "kiroku."; // kiroku's own events (retractions) cannot be retracted

/** A filterable, paged list of events beside the opened event and its ledger. */
export function eventBrowser(ctx) {
  let after = 0;
  const starts = []; // the `after` of each earlier page, for "Previous"
  const stream = h("input", {
    id: "event-stream",
    name: "stream",
    placeholder: "all streams, or e.g. room-1a2b",
    autocomplete: "off",
  });
  const list = h("div", { id: "event-list" });
  const detail = h(
    "div",
    { id: "event-detail", class: "event-detail", "aria-live": "polite" },
    h("p", { class: "muted" }, "Open an event to see its data and which consumers processed it."),
  );
  const prev = h("button", { type: "button", disabled: true }, "Previous");
  const next = h("button", { type: "button", disabled: true }, "Next");
  const filter = h(
    "form",
    { class: "row", role: "search" },
    h("label", { for: "event-stream" }, "Stream"),
    stream,
    h("button", { type: "submit" }, "Show"),
    prev,
    next,
  );
  let rows = [];

  async function load() {
    const params = { after, limit: EVENT_PAGE, stream: stream.value.trim() };
    const answer = await ctx.attempt(() => get("/api/admin/events", params));
    if (!answer) return;
    rows = listOf(answer, "events");
    fill(list, rows.length ? eventTable(rows, open) : h("p", { class: "muted" }, "No events."));
    prev.disabled = !starts.length;
    next.disabled = rows.length < EVENT_PAGE;
  }
  next.addEventListener("click", () => {
    starts.push(after);
    after = rows[rows.length - 1].position;
    load();
  });
  prev.addEventListener("click", () => {
    after = starts.pop() ?? 0;
    load();
  });
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    after = 0;
    starts.length = 0;
    load();
  });

  async function open(position) {
    const answer = await ctx.attempt(() =>
      get(`/api/admin/events/${encodeURIComponent(position)}`),
    );
    if (!answer) return;
    const ledger = listOf(answer, "ledger");
    const system = String(answer.event.type).startsWith(SYSTEM_PREFIX);
    const outcome = h("div", { id: "retraction-result", "aria-live": "polite" });
    const retractIt = async () => {
      const reason = prompt(`Why is event ${position} (${answer.event.type}) invalid?`);
      if (!reason || !reason.trim()) return;
      const path = `/api/admin/events/${encodeURIComponent(position)}/retract`;
      const report = await ctx.attempt(() => command("POST", path, { reason }));
      if (!report) return;
      fill(outcome, retractionReport(report));
      load();
    };
    fill(
      detail,
      h("h3", { id: "event-detail-title" }, `Event ${position}: ${answer.event.type}`),
      system
        ? null
        : h("button", { type: "button", class: "danger", onclick: retractIt }, "Retract"),
      outcome,
      json(answer.event),
      h("h4", {}, "Consumption ledger"),
      ledger.length
        ? ledgerTable(ledger)
        : h("p", { class: "muted" }, "No consumer has recorded this event yet."),
    );
    detail.scrollIntoView({ block: "nearest" });
  }

  const el = h(
    "div",
    { class: "event-browser" },
    filter,
    h("div", { class: "split" }, list, detail),
  );
  return { el, load, open };
}

function eventTable(rows, open) {
  const columns = ["Position", "Stream", "Version", "Type", "Occurred"];
  const row = (e) =>
    h(
      "tr",
      { "data-position": e.position },
      h(
        "td",
        { class: "num" },
        h(
          "button",
          {
            type: "button",
            class: "link",
            "aria-label": `Open event ${e.position}`,
            onclick: () => open(e.position),
          },
          String(e.position),
        ),
      ),
      h("td", { class: "stream", title: e.stream }, e.stream),
      h("td", { class: "num" }, String(e.version)),
      h(
        "td",
        {},
        e.type,
        e.schema_version > 1 ? h("span", { class: "badge" }, `v${e.schema_version}`) : null,
      ),
      h("td", {}, timeEl(e.occurred_at)),
    );
  return dataTable(columns, rows.map(row), "event-table");
}

function ledgerTable(rows) {
  const columns = ["Consumer", "Outcome", "Batch", "When", "Detail"];
  const row = (entry) =>
    h(
      "tr",
      { "data-consumer": entry.projection },
      h("td", {}, entry.projection),
      h("td", {}, h("span", { class: `status status-${slug(entry.outcome)}` }, entry.outcome)),
      h(
        "td",
        { class: "num" },
        entry.batch === null || entry.batch === undefined ? "–" : String(entry.batch),
      ),
      h("td", {}, timeEl(entry.processed_at) ?? "–"),
      h("td", { class: "small" }, entry.detail ?? ""),
    );
  return dataTable(columns, rows.map(row), "ledger");
}

/** What a retraction touched: where it was written, whether late, and who had the event. */
function retractionReport(report) {
  const radius = report.blast_radius ?? [];
  const row = (x) =>
    h(
      "tr",
      { "data-consumer": x.consumer },
      h("td", {}, x.consumer),
      h("td", {}, h("span", { class: `status status-${slug(x.outcome)}` }, x.outcome)),
    );
  return h(
    "div",
    { class: `retraction ${report.late ? "retraction-late" : ""}` },
    h(
      "p",
      {},
      `Retracted: written at position ${report.position} (version ${report.version}). `,
      report.late
        ? h("strong", { class: "danger-text" }, "Late: the compensation window closed ")
        : "Within the compensation window, which closes ",
      timeEl(report.window_closed_at, true),
      ".",
    ),
    radius.length
      ? dataTable(["Consumer", "Outcome"], radius.map(row), "blast-radius")
      : h("p", { class: "muted" }, "No consumer had processed it."),
  );
}
