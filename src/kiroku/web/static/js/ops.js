// The operations page: projections (lag, status, replay, rebuild), parked
// events, the event browser with retraction (events.js), and the event catalog
// drawn from its JSON (catalog.js).

import { command, get, listOf } from "./api.js";
import { dataTable, fill, h, slug, timeEl } from "./dom.js";
import { catalogView } from "./catalog.js";
import { eventBrowser } from "./events.js";

const PROGRESS_EVERY_MS = 500; // while a task runs or a runner lags, the table is re-read

/** Render the operations page into main; returns a cleanup function. */
export function renderOps(main, ctx) {
  const state = { closed: false, timer: null, busy: new Set() };
  const projections = h("div", { id: "projections" });
  const parked = h("div", { id: "parked" });
  const browser = eventBrowser(ctx);
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
        parked,
        h("button", { type: "button", onclick: () => loadParked() }, "Refresh"),
      ),
      section("Events", "events-title", browser.el),
      section("Event catalog", "catalog-title", catalog.el),
    ),
  );

  async function loadProjections() {
    const answer = await ctx.attempt(() => get("/api/admin/projections"));
    if (!answer || state.closed) return;
    const rows = listOf(answer, "projections");
    drawProjections(projections, rows, { ctx, state, onStarted: watchProgress });
    // Keep the table current while something moves: a task runs or a runner lags.
    const moving = rows.some((p) => isRunning(p) || p.lag_events > 0);
    if (moving || state.busy.size) watchProgress();
  }

  function watchProgress() {
    clearTimeout(state.timer);
    state.timer = setTimeout(loadProjections, PROGRESS_EVERY_MS);
  }

  async function loadParked() {
    const answer = await ctx.attempt(() => get("/api/admin/parked"));
    if (!answer || state.closed) return;
    drawParked(parked, listOf(answer, "parked"), { ctx, openEvent: browser.open, resolve });
  }

  // Retry or skip one parked event; the projection table moves too when it does.
  async function resolve(p, action, body) {
    const path = `/api/admin/parked/${encodeURIComponent(p.projection)}/${p.id}/${action}`;
    await ctx.attempt(() => command("POST", path, body));
    loadParked();
    loadProjections();
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

const isRunning = (p) => p.task?.state === "running";

/** 0..1 through a running replay or rebuild, else through the journal; null if unknown. */
function progressOf(p) {
  const task = p.task?.state === "running" ? p.task.progress : null;
  const position = Number(task ? task.position : p.position);
  const total = Number(task ? task.target : p.head);
  if (!Number.isFinite(position) || !Number.isFinite(total) || total <= 0) return null;
  return Math.max(0, Math.min(1, position / total));
}

function drawProjections(container, rows, { ctx, state, onStarted }) {
  if (!rows.length) {
    fill(container, h("p", { class: "muted" }, "No projections are registered."));
    return;
  }
  const columns = ["Name", "State", "Position", "Lag", "Parked", "Last task", "Actions"];
  const body = rows.map((p) => projectionRow(p, { ctx, state, onStarted }));
  fill(container, dataTable(columns, body, "projection-table"));
}

/** The replay start from what the operator typed: a position, or a date and time. */
function replayFrom(text) {
  const value = text.trim();
  if (/^\d+$/.test(value)) return { from_position: Number(value) };
  const time = new Date(value);
  if (value && !Number.isNaN(time.getTime())) return { from_time: time.toISOString() };
  return { from_position: 0 };
}

function taskCell(p) {
  const task = p.task;
  if (!task) return h("span", { class: "muted" }, "none");
  const progress = progressOf(p);
  const running = task.state === "running";
  return h(
    "div",
    { class: "task" },
    h("span", { class: `status status-${slug(task.state)}` }, `${task.kind} ${task.state}`),
    running && progress !== null
      ? h("progress", {
          max: 1,
          value: progress,
          "aria-label": `${task.kind} progress of ${p.name}`,
          title: `${Math.round(progress * 100)}%`,
        })
      : null,
    running && task.progress
      ? h("span", { class: "small muted" }, `${task.progress.position} / ${task.progress.target}`)
      : null,
    task.error ? h("div", { class: "small danger-text" }, task.error) : null,
  );
}

function projectionRow(p, { ctx, state, onStarted }) {
  const name = p.name;
  const busy = state.busy.has(name) || isRunning(p);
  const from = h("input", {
    class: "narrow",
    value: "0",
    "aria-label": `Replay ${name} from position or time`,
    title: "A global position, or a date and time",
  });
  const start = async (kind, body) => {
    state.busy.add(name);
    onStarted();
    const done = await ctx.attempt(() =>
      command("POST", `/api/admin/projections/${encodeURIComponent(name)}/${kind}`, body),
    );
    state.busy.delete(name);
    if (done) onStarted();
  };
  const rebuild = () => {
    if (confirm(`Rebuild ${name} from the first event? Reads keep working meanwhile.`)) {
      start("rebuild");
    }
  };
  const lagSeconds = Number(p.lag_seconds);
  return h(
    "tr",
    { "data-projection": name },
    h("th", { scope: "row" }, name),
    h(
      "td",
      {},
      h("span", { class: `status status-${slug(p.state)}` }, String(p.state ?? "unknown")),
      p.error ? h("div", { class: "small danger-text" }, p.error) : null,
    ),
    h("td", { class: "num" }, `${p.position} / ${p.head}`),
    h(
      "td",
      { class: "num" },
      `${p.lag_events} events`,
      lagSeconds > 0 ? h("div", { class: "small muted" }, `${lagSeconds.toFixed(1)} s`) : null,
    ),
    h("td", { class: "num" }, String(p.parked ?? 0)),
    h("td", {}, taskCell(p)),
    h(
      "td",
      { class: "row-actions" },
      h("label", { class: "small" }, "from ", from),
      h(
        "button",
        { type: "button", disabled: busy, onclick: () => start("replay", replayFrom(from.value)) },
        "Replay",
      ),
      h("button", { type: "button", class: "danger", disabled: busy, onclick: rebuild }, "Rebuild"),
    ),
  );
}

function drawParked(container, rows, { openEvent, resolve }) {
  if (!rows.length) {
    fill(container, h("p", { class: "muted", id: "no-parked" }, "Nothing is parked."));
    return;
  }
  const columns = ["Projection", "Position", "Event", "Kind", "Status", "Error", "Parked at", ""];
  const skip = (p) => {
    const reason = prompt(`Skip ${p.projection}:${p.id}? The reason goes on the record:`);
    if (reason && reason.trim()) resolve(p, "skip", { reason: reason.trim() });
  };
  const actions = (p) =>
    p.status !== "parked" || p.kind === "held" // held ones follow the event they wait on
      ? h("td", {})
      : h(
          "td",
          { class: "row-actions" },
          h("button", { type: "button", onclick: () => resolve(p, "retry") }, "Retry"),
          h("button", { type: "button", class: "danger", onclick: () => skip(p) }, "Skip"),
        );
  const row = (p) =>
    h(
      "tr",
      { "data-parked": p.id },
      h("td", {}, p.projection),
      h(
        "td",
        { class: "num" },
        h(
          "button",
          { type: "button", class: "link", onclick: () => openEvent(p.position) },
          String(p.position),
        ),
      ),
      h("td", {}, `${p.type} (${p.stream} v${p.version})`),
      h("td", {}, p.kind),
      h(
        "td",
        {},
        h("span", { class: `status status-${slug(p.status)}` }, p.status),
        p.reason ? h("div", { class: "small muted" }, p.reason) : null,
      ),
      h(
        "td",
        { class: "danger-text small" },
        p.error,
        p.attempts > 1 ? ` (${p.attempts} attempts)` : "",
      ),
      h("td", {}, timeEl(p.parked_at)),
      actions(p),
    );
  fill(container, dataTable(columns, rows.map(row), "parked-table"));
}
