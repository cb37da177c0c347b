// The operations page: projections (lag, status, replay, rebuild), parked
// events, the event browser with retraction (events.js), and the event catalog
// drawn from its JSON (catalog.js).

import { ApiError, get, listOf } from "./api.js";
import { dataTable, fill, h } from "./dom.js";
import { catalogView } from "./catalog.js";
import { eventBrowser } from "./events.js";
import { parkedView } from "./parked.js";
import { isRunning, projectionRow } from "./opsrow.js";

const PROGRESS_EVERY_MS = 500; // while a task runs or a runner lags, the table is re-read
const UNAVAILABLE_RETRY_MS = 2000; // while the projector process is away (503), asked again

/** Render the operations page into main; returns a cleanup function. */
export function renderOps(main, ctx) {
  const state = { closed: false, timer: null, busy: new Set(), rows: new Map(), firstParked: {} };
  const projections = h("div", { id: "projections" });
  const browser = eventBrowser(ctx);
  const parked = parkedView(ctx, { openEvent: browser.open, onChange: () => loadProjections() });
  const catalog = catalogView(ctx);
  fill(
    main,
    h(
      "div",
      { class: "ops" },
      h("h1", {}, "Operations"),
      section(
        "Projections",
        "projections-title",
        projections,
        h("button", { type: "button", onclick: () => loadProjections() }, "Refresh"),
      ),
      section(
        "Parked events",
        "parked-title",
        parked.el,
        h("button", { type: "button", onclick: () => loadParked() }, "Refresh"),
      ),
      section("Events", "events-title", browser.el),
      section("Event catalog", "catalog-title", catalog.el),
    ),
  );

  // A projector process that is restarting answers 503 for a moment: the section
  // says so and asks again by itself, rather than stay empty until a Refresh.
  async function loadProjections() {
    let answer;
    try {
      answer = await get("/api/admin/projections");
    } catch (error) {
      if (state.closed) return;
      if (!(error instanceof ApiError && error.status === 503)) {
        ctx.showError(error);
        return;
      }
      unavailable(projections, error);
      clearTimeout(state.timer);
      state.timer = setTimeout(loadProjections, UNAVAILABLE_RETRY_MS);
      return;
    }
    if (state.closed) return;
    projections.querySelector("#projections-unavailable")?.remove();
    const rows = listOf(answer, "projections");
    drawProjections(projections, rows, { ctx, state, onStarted: watchProgress, showParked });
    // Keep the table current while something moves: a task runs or a runner lags.
    const moving = rows.some((p) => isRunning(p) || p.lag_events > 0);
    if (moving || state.busy.size) watchProgress();
  }

  function watchProgress() {
    clearTimeout(state.timer);
    state.timer = setTimeout(loadProjections, PROGRESS_EVERY_MS);
  }

  // The groups say where each projection's first parked event is: the replay default.
  async function loadParked() {
    const groups = await parked.load();
    state.firstParked = {};
    for (const g of groups ?? []) {
      const known = state.firstParked[g.projection];
      if (known === undefined || g.first_position < known) {
        state.firstParked[g.projection] = g.first_position;
      }
    }
    for (const row of state.rows.values()) row.suggest(state.firstParked);
  }

  // A task that parked events points here: the list, read afresh, in view.
  async function showParked() {
    await loadParked();
    const title = main.querySelector("#parked-title");
    if (!title || state.closed) return;
    title.setAttribute("tabindex", "-1");
    title.scrollIntoView({ block: "start" });
    title.focus({ preventScroll: true });
  }

  loadProjections();
  loadParked();
  browser.load();
  catalog.load();
  return () => {
    state.closed = true;
    clearTimeout(state.timer);
  };
}

function section(title, id, body, ...tools) {
  return h(
    "section",
    { class: "card ops-section", "aria-labelledby": id },
    h("div", { class: "section-head" }, h("h2", { id }, title), ...tools),
    body,
  );
}

/**
 * The projection table, updated in place: each row (and the replay input the
 * operator may be typing in) is created once and only its cells change on a
 * refresh, so a refresh every 500 ms never wipes what is being typed.
 */
function unavailable(container, error) {
  const text = `${error.detail || error.title}. Asking again every few seconds.`;
  const line = container.querySelector("#projections-unavailable");
  if (line) line.textContent = text;
  else {
    const attrs = { id: "projections-unavailable", class: "muted", role: "status" };
    container.prepend(h("p", attrs, text));
  }
}

function drawProjections(container, rows, { ctx, state, onStarted, showParked }) {
  if (!rows.length) {
    fill(container, h("p", { class: "muted" }, "No projections are registered."));
    return;
  }
  let table = container.querySelector("#projection-table");
  if (!table) {
    const columns = ["Name", "State", "Position", "Lag", "Parked", "Last task", "Actions"];
    fill(container, dataTable(columns, [], "projection-table"));
    table = container.querySelector("#projection-table");
  }
  const body = table.querySelector("tbody");
  for (const p of rows) {
    let row = state.rows.get(p.name);
    if (!row) {
      row = projectionRow(p.name, { ctx, state, onStarted, showParked });
      state.rows.set(p.name, row);
      body.append(row.el);
    }
    row.update(p);
    row.suggest(state.firstParked);
  }
}
