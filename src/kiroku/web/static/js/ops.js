// The operations page: projections (lag, status, replay, rebuild), parked
// events, the event browser with retraction (events.js), and the event catalog
// drawn from its JSON (catalog.js).

import { command, get, listOf } from "./api.js";
import { dataTable, fill, h, slug } from "./dom.js";
import { catalogView } from "./catalog.js";
import { eventBrowser } from "./events.js";
import { parkedView } from "./parked.js";

const PROGRESS_EVERY_MS = 500; // while a task runs or a runner lags, the table is re-read

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

/**
 * The projection table, updated in place: each row (and the replay input the
 * operator may be typing in) is created once and only its cells change on a
 * refresh, so a refresh every 500 ms never wipes what is being typed.
 */
function drawProjections(container, rows, { ctx, state, onStarted }) {
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
      row = projectionRow(p.name, { ctx, state, onStarted });
      state.rows.set(p.name, row);
      body.append(row.el);
    }
    row.update(p);
    row.suggest(state.firstParked);
  }
}

/** The replay start from what the operator typed, or an error message saying what is wrong. */
export function replayFrom(text, head) {
  const value = text.trim();
  if (!value) return { error: "Give a position or a date and time" };
  if (/^\d+$/.test(value)) {
    const position = Number(value);
    if (position < 1) return { error: "Positions start at 1" };
    if (head && position > head) return { error: `The journal ends at ${head}` };
    return { body: { from_position: position } };
  }
  if (/^\d{4}-\d{2}-\d{2}/.test(value)) {
    const time = new Date(value);
    if (!Number.isNaN(time.getTime())) return { body: { from_time: time.toISOString() } };
  }
  return { error: "Not a position (e.g. 120) nor a time (e.g. 2026-05-01T12:00)" };
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

function projectionRow(name, { ctx, state, onStarted }) {
  let last = null; // the latest status row
  let edited = false; // the operator typed: suggestions stop
  const hintId = `replay-hint-${slug(name)}`;
  const from = h("input", {
    class: "narrow",
    inputmode: "text",
    "aria-label": `Replay ${name} from position or time`,
    "aria-describedby": hintId,
    title: "A global position, or a date and time",
  });
  const hint = h("div", { class: "small field-hint", id: hintId, "aria-live": "polite" });
  const replayButton = h("button", { type: "button" }, "Replay");
  const rebuildButton = h("button", { type: "button", class: "danger" }, "Rebuild");
  const cells = {
    state: h("td", { class: "state-cell" }),
    position: h("td", { class: "num" }),
    lag: h("td", { class: "num" }),
    parked: h("td", { class: "num" }),
    task: h("td", { class: "task-cell" }),
  };
  const validate = () => {
    const checked = replayFrom(from.value, last?.head);
    from.setAttribute("aria-invalid", checked.error ? "true" : "false");
    hint.textContent = checked.error ?? "";
    replayButton.disabled = Boolean(checked.error) || busy();
    return checked;
  };
  const busy = () => state.busy.has(name) || (last !== null && isRunning(last));
  const start = async (kind, body) => {
    state.busy.add(name);
    update(last);
    onStarted();
    const done = await ctx.attempt(() =>
      command("POST", `/api/admin/projections/${encodeURIComponent(name)}/${kind}`, body),
    );
    state.busy.delete(name);
    if (done) onStarted();
    else update(last);
  };
  from.addEventListener("input", () => {
    edited = true;
    validate();
  });
  replayButton.addEventListener("click", () => {
    const checked = validate();
    if (checked.body) start("replay", checked.body);
  });
  rebuildButton.addEventListener("click", () => {
    if (confirm(`Rebuild ${name} from the first event? Reads keep working meanwhile.`)) {
      start("rebuild");
    }
  });
  const el = h(
    "tr",
    { "data-projection": name },
    h("th", { scope: "row" }, name),
    cells.state,
    cells.position,
    cells.lag,
    cells.parked,
    cells.task,
    h(
      "td",
      { class: "row-actions" },
      h("label", { class: "small replay-from" }, "from ", from),
      replayButton,
      rebuildButton,
      hint,
    ),
  );
  function update(p) {
    last = p;
    fill(
      cells.state,
      h("span", { class: `status status-${slug(p.state)}` }, String(p.state ?? "unknown")),
      p.error ? h("div", { class: "small danger-text clamp" }, p.error) : null,
    );
    cells.position.textContent = `${p.position} / ${p.head}`;
    const lagSeconds = Number(p.lag_seconds);
    fill(
      cells.lag,
      `${p.lag_events} events`,
      lagSeconds > 0 ? h("div", { class: "small muted" }, `${lagSeconds.toFixed(1)} s`) : null,
    );
    cells.parked.textContent = String(p.parked ?? 0);
    fill(cells.task, taskCell(p));
    rebuildButton.disabled = busy();
    if (from.value || edited) validate();
    else replayButton.disabled = busy();
  }
  // A sensible default: the first parked event, else the projection's own checkpoint.
  function suggest(firstParked) {
    if (edited || !last) return;
    const parkedAt = firstParked[name];
    const value = parkedAt ?? Math.max(1, Math.min(last.position || 1, last.head || 1));
    if (last.head >= 1) from.value = String(value);
    validate();
  }
  return { el, update, suggest };
}
