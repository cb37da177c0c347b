// The event browser: the journal newest first, page by page, filtered by stream
// and type, with jumps to a position, time or event id; and each
// event with its consumption ledger (which consumer did what with it, and when),
// and a Retract action that voids the opened event and shows the blast radius.

import { command, get, listOf } from "./api.js";
import { dataTable, fill, h, json, slug, timeEl } from "./dom.js";

const EVENT_PAGE = 50;
const SYSTEM_PREFIX = "kiroku."; // kiroku's own events (retractions) cannot be retracted

/**
 * The journal newest first, a page at a time (the server's cursors), with a
 * jump to a position, a time or an event id, and filters by type and stream.
 */
export function eventBrowser(ctx) {
  const nav = { before: null, stack: [], next: null, focus: null };
  const field = (id, label, placeholder) => [
    h("label", { for: id }, label),
    h("input", { id, name: id, placeholder, autocomplete: "off" }),
  ];
  const [streamLabel, stream] = field("event-stream", "Stream", "all streams, e.g. room-1a2b");
  const [typeLabel, type] = field("event-type", "Event type", "all types, e.g. chat.Message*");
  const [jumpLabel, jump] = field("event-jump", "Go to", "position, time or event id");
  const list = h("div", { id: "event-list" });
  const detail = h(
    "div",
    { id: "event-detail", class: "event-detail", "aria-live": "polite" },
    h("p", { class: "muted" }, "Open an event to see its data and which consumers processed it."),
  );
  const newest = h("button", { type: "button" }, "Newest");
  const newer = h("button", { type: "button", disabled: true }, "Newer");
  const older = h("button", { type: "button", disabled: true }, "Older");
  const filter = h(
    "form",
    { class: "event-filters", role: "search" },
    h("div", { class: "field" }, streamLabel, stream),
    h("div", { class: "field" }, typeLabel, type),
    h("div", { class: "field" }, jumpLabel, jump),
    h("div", { class: "row" }, h("button", { type: "submit" }, "Show"), newest, newer, older),
  );
  let rows = [];

  /** Where "Go to" points: a position, an event id, or a time. */
  function jumpParams() {
    const value = jump.value.trim();
    if (!value) return {};
    if (/^\d+$/.test(value)) return { before: Number(value) + 1 };
    if (/^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(value)) return { id: value };
    return { at: value };
  }

  async function load(extra = {}) {
    const params = { limit: EVENT_PAGE, stream: stream.value.trim(), type: type.value.trim() };
    if (nav.before) params.before = nav.before;
    Object.assign(params, extra);
    const answer = await ctx.attempt(() => get("/api/admin/events", params));
    if (!answer) return;
    rows = listOf(answer, "events");
    nav.next = answer.next?.before ?? null;
    const focus = answer.focus ?? (extra.before ? extra.before - 1 : null);
    if (extra.before || extra.id || extra.at) nav.before = rows.length ? rows[0].position + 1 : null;
    fill(list, rows.length ? eventTable(rows, open, focus) : h("p", { class: "muted" }, "No events."));
    newer.disabled = !nav.stack.length;
    older.disabled = !nav.next;
    if (focus && rows.some((e) => e.position === focus)) open(focus);
  }
  older.addEventListener("click", () => {
    nav.stack.push(nav.before);
    nav.before = nav.next;
    load();
  });
  newer.addEventListener("click", () => {
    nav.before = nav.stack.pop() ?? null;
    load();
  });
  newest.addEventListener("click", () => {
    nav.before = null;
    nav.stack = [];
    jump.value = "";
    load();
  });
  filter.addEventListener("submit", (event) => {
    event.preventDefault();
    nav.before = null;
    nav.stack = [];
    load(jumpParams());
  });

  async function open(position) {
    const answer = await ctx.attempt(() =>
      get(`/api/admin/events/${encodeURIComponent(position)}`),
    );
    if (!answer) return;
    const ledger = listOf(answer, "ledger");
    const system = String(answer.event.type).startsWith(SYSTEM_PREFIX);
    const retracted = Boolean(answer.event.retracted);
    const outcome = h("div", { id: "retraction-result", "aria-live": "polite" });
    const retractIt = async () => {
      const reason = prompt(`Why is event ${position} (${answer.event.type}) invalid?`);
      if (!reason || !reason.trim()) return;
      const path = `/api/admin/events/${encodeURIComponent(position)}/retract`;
      const report = await ctx.attempt(() => command("POST", path, { reason }));
      if (!report) return;
      fill(outcome, retractionReport(report));
      retractButton.replaceWith(h("p", { class: "badge retracted-badge" }, "Retracted"));
      load();
    };
    const retractButton = h(
      "button",
      { type: "button", class: "danger", onclick: retractIt },
      "Retract",
    );
    fill(
      detail,
      h("h3", { id: "event-detail-title" }, `Event ${position}: ${answer.event.type}`),
      retracted ? h("p", { class: "badge retracted-badge" }, "Retracted") : null,
      system || retracted ? null : retractButton,
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

function eventTable(rows, open, focus) {
  const columns = ["Position", "Stream", "Version", "Type", "Occurred"];
  const row = (e) =>
    h(
      "tr",
      {
        "data-position": e.position,
        class: [e.retracted ? "retracted" : "", e.position === focus ? "focus" : ""].join(" "),
      },
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
        e.retracted ? h("span", { class: "badge retracted-badge" }, "retracted") : null,
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
