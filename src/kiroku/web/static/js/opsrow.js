// One row of the operations page's projection table: status, lag, the last
// task's outcome, and the Replay and Rebuild controls. What the server allows is
// said before anything runs: a projection that has not declared itself
// replay-safe is offered Rebuild only, and a task that parked events is a
// warning that points at the parked list, never a green "done".

import { ApiError, command } from "./api.js";
import { fill, h, slug } from "./dom.js";

/** Why Replay is not offered, shown in its place (the server refuses it too). */
export const NOT_REPLAY_SAFE = "not replay-safe: handlers are not idempotent — Rebuild instead";

export const isRunning = (p) => p.task?.state === "running";

/** 0..1 through a running replay or rebuild, else through the journal; null if unknown. */
function progressOf(p) {
  const task = p.task?.state === "running" ? p.task.progress : null;
  const position = Number(task ? task.position : p.position);
  const total = Number(task ? task.target : p.head);
  if (!Number.isFinite(position) || !Number.isFinite(total) || total <= 0) return null;
  return Math.max(0, Math.min(1, position / total));
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

/** How many events a finished task parked: its state says "done with N parked". */
export function parkedBy(task) {
  const found = /^done with (\d+) parked$/.exec(String(task?.state ?? ""));
  return found ? Number(found[1]) : 0;
}

function taskCell(p, showParked) {
  const task = p.task;
  if (!task) return h("span", { class: "muted" }, "none");
  const progress = progressOf(p);
  const running = task.state === "running";
  const parked = parkedBy(task);
  return h(
    "div",
    { class: "task" },
    parked
      ? h(
          "span",
          { class: "status status-warn-outcome", role: "status" },
          `⚠ ${task.kind} done with ${parked} parked`,
        )
      : h("span", { class: `status status-${slug(task.state)}` }, `${task.kind} ${task.state}`),
    parked
      ? h(
          "button",
          { type: "button", class: "link small", onclick: () => showParked(p.name) },
          `Show the ${parked} parked event${parked === 1 ? "" : "s"}`,
        )
      : null,
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
    task.resumed
      ? h(
          "div",
          { class: "small muted" },
          `resumed after ${task.resumed === 1 ? "a restart" : `${task.resumed} restarts`}`,
        )
      : null,
    task.error ? h("div", { class: "small danger-text" }, task.error) : null,
  );
}

export function projectionRow(name, { ctx, state, onStarted, showParked }) {
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
  const replayControls = h(
    "span",
    { class: "replay-controls" },
    h("label", { class: "small replay-from" }, "from ", from),
    replayButton,
  );
  const notOffered = h(
    "span",
    { class: "small replay-refused", hidden: true },
    "Replay not offered: ",
    NOT_REPLAY_SAFE,
  );
  // What the server answered to this row's last command (a refusal, a conflict).
  const refusal = h("div", { class: "small danger-text refusal", role: "alert" });
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
    replayButton.disabled = Boolean(checked.error) || busy() || !replaySafe();
    return checked;
  };
  const busy = () => state.busy.has(name) || (last !== null && isRunning(last));
  const replaySafe = () => last?.replay_safe !== false;
  const start = async (kind, body) => {
    state.busy.add(name);
    refusal.textContent = "";
    update(last);
    onStarted();
    let done = null;
    try {
      done = await command("POST", `/api/admin/projections/${encodeURIComponent(name)}/${kind}`, body);
    } catch (error) {
      // The server's own words, kept beside the row: a refused replay says why and what to do.
      if (error instanceof ApiError && (error.status === 400 || error.status === 409)) {
        refusal.textContent = error.detail || error.message;
      } else {
        ctx.showError(error);
      }
    }
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
      replayControls,
      notOffered,
      rebuildButton,
      hint,
      refusal,
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
    fill(cells.task, taskCell(p, showParked));
    rebuildButton.disabled = busy();
    replayControls.hidden = !replaySafe();
    notOffered.hidden = replaySafe();
    if (!replaySafe()) replayButton.disabled = true;
    else if (from.value || edited) validate();
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
