// Parked events at journal scale: the errors they share (groups, with counts),
// one page of events at a time (cursor paging), and retry or skip for a
// selection or a whole group with one reason.

import { command, get, listOf } from "./api.js";
import { dataTable, fill, h, slug, timeEl } from "./dom.js";

const PAGE = 50;

/** The parked section: groups, a paged list, bulk actions. onChange runs after any action. */
export function parkedView(ctx, { openEvent, onChange }) {
  const state = { cursors: [], cursor: "", next: null, group: null, rows: [], selected: new Set() };
  const same = (a, b) => a && b && a.projection === b.projection && a.error === b.error;
  const groups = h("div", { id: "parked-groups" });
  const list = h("div", { id: "parked-list" });
  const resolved = h("input", { type: "checkbox", id: "parked-resolved" });
  const summary = h("span", { class: "small muted", id: "parked-page" });
  const prev = h("button", { type: "button", disabled: true }, "Previous");
  const next = h("button", { type: "button", disabled: true }, "Next");
  const selRetry = h("button", { type: "button", disabled: true }, "Retry selected");
  const selSkip = h("button", { type: "button", class: "danger", disabled: true }, "Skip selected");
  const tools = h(
    "div",
    { class: "row wrap", id: "parked-tools" },
    h("label", { class: "small" }, resolved, " include resolved"),
    selRetry,
    selSkip,
    prev,
    next,
    summary,
  );

  async function loadGroups() {
    const answer = await ctx.attempt(() => get("/api/admin/parked/groups"));
    if (!answer) return [];
    const rows = listOf(answer, "groups");
    drawGroups(groups, rows, { choose, bulkGroup, isCurrent: (g) => same(g, state.group) });
    return rows;
  }

  async function loadPage() {
    const params = { limit: PAGE, cursor: state.cursor };
    if (state.group) Object.assign(params, state.group);
    if (resolved.checked) params.all = 1;
    const answer = await ctx.attempt(() => get("/api/admin/parked", params));
    if (!answer) return;
    state.rows = listOf(answer, "parked");
    state.next = answer.next ?? null;
    state.selected.clear();
    drawList(list, state.rows, { openEvent, resolve, toggle, selected: state.selected });
    prev.disabled = !state.cursors.length;
    next.disabled = !state.next;
    const page = state.cursors.length + 1;
    summary.textContent = state.rows.length
      ? `page ${page}${state.group ? ` · ${state.group.projection} only` : ""}`
      : "";
    updateSelection();
  }

  async function load() {
    const found = await loadGroups();
    await loadPage();
    return found;
  }

  function choose(g) {
    state.group = same(g, state.group) ? null : { projection: g.projection, error: g.error };
    state.cursor = "";
    state.cursors = [];
    load();
  }

  function toggle(ref, on) {
    if (on) state.selected.add(ref);
    else state.selected.delete(ref);
    updateSelection();
  }

  function updateSelection() {
    const n = state.selected.size;
    selRetry.disabled = selSkip.disabled = n === 0;
    selRetry.textContent = n ? `Retry ${n} selected` : "Retry selected";
    selSkip.textContent = n ? `Skip ${n} selected` : "Skip selected";
  }

  async function bulk(body, what) {
    if (body.action === "skip") {
      const reason = prompt(`Skip ${what}? One reason goes on the record for each:`);
      if (!reason || !reason.trim()) return;
      body.reason = reason.trim();
    }
    const answer = await ctx.attempt(() => command("POST", "/api/admin/parked/bulk", body));
    if (!answer) return;
    if (answer.failed) {
      const first = answer.errors?.[0];
      ctx.showError(
        new Error(
          `${answer.action}: ${answer.done} of ${answer.selected} done, ${answer.failed} failed` +
            (first ? ` (${first.ref}: ${first.error})` : ""),
        ),
      );
    }
    if (body.group) state.group = null;
    state.cursor = "";
    state.cursors = [];
    await load();
    onChange();
  }

  function bulkGroup(g, action) {
    const what = `all ${g.actionable} parked events of ${g.projection} failing with "${g.error}"`;
    bulk({ action, group: { projection: g.projection, error: g.error } }, what);
  }

  // One parked event: the same endpoints as before bulk existed.
  async function resolve(p, action) {
    let body;
    if (action === "skip") {
      const reason = prompt(`Skip ${p.ref}? The reason goes on the record:`);
      if (!reason || !reason.trim()) return;
      body = { reason: reason.trim() };
    }
    const path = `/api/admin/parked/${encodeURIComponent(p.projection)}/${p.id}/${action}`;
    await ctx.attempt(() => command("POST", path, body));
    await load();
    onChange();
  }

  selRetry.addEventListener("click", () =>
    bulk({ action: "retry", refs: [...state.selected] }, `${state.selected.size} events`),
  );
  selSkip.addEventListener("click", () =>
    bulk({ action: "skip", refs: [...state.selected] }, `${state.selected.size} events`),
  );
  next.addEventListener("click", () => {
    state.cursors.push(state.cursor);
    state.cursor = state.next;
    loadPage();
  });
  prev.addEventListener("click", () => {
    state.cursor = state.cursors.pop() ?? "";
    loadPage();
  });
  resolved.addEventListener("change", () => {
    state.cursor = "";
    state.cursors = [];
    loadPage();
  });

  const el = h("div", { id: "parked", class: "parked" }, groups, tools, list);
  return { el, load };
}

function drawGroups(container, rows, { choose, bulkGroup, isCurrent }) {
  if (!rows.length) {
    fill(container, h("p", { class: "muted", id: "no-parked" }, "Nothing is parked."));
    return;
  }
  const row = (g) =>
    h(
      "li",
      {
        class: `parked-group ${isCurrent(g) ? "chosen" : ""}`,
        "data-projection": g.projection,
      },
      h(
        "button",
        {
          type: "button",
          class: "link group-error",
          "aria-pressed": isCurrent(g) ? "true" : "false",
          title: "Show only these",
          onclick: () => choose(g),
        },
        h("strong", {}, String(g.count)),
        ` ${g.projection}: `,
        h("span", { class: "danger-text" }, g.error),
      ),
      h("span", { class: "small muted" }, ` positions ${g.first_position}–${g.last_position}`),
      g.actionable
        ? h(
            "span",
            { class: "row-actions" },
            h("button", { type: "button", onclick: () => bulkGroup(g, "retry") }, "Retry all"),
            h(
              "button",
              { type: "button", class: "danger", onclick: () => bulkGroup(g, "skip") },
              "Skip all",
            ),
          )
        : null,
    );
  fill(container, h("ul", { class: "parked-groups", "aria-label": "Parked by error" }, rows.map(row)));
}

function drawList(container, rows, { openEvent, resolve, toggle, selected }) {
  if (!rows.length) {
    fill(container, h("p", { class: "muted" }, "No parked events on this page."));
    return;
  }
  const open = (p) => p.status === "parked" && p.kind !== "held"; // held ones follow their cause
  const pick = (p) =>
    open(p)
      ? h("input", {
          type: "checkbox",
          "aria-label": `Select ${p.ref}`,
          checked: selected.has(p.ref),
          onchange: (event) => toggle(p.ref, event.target.checked),
        })
      : null;
  const actions = (p) =>
    open(p)
      ? h(
          "td",
          { class: "row-actions" },
          h("button", { type: "button", onclick: () => resolve(p, "retry") }, "Retry"),
          h("button", { type: "button", class: "danger", onclick: () => resolve(p, "skip") }, "Skip"),
        )
      : h("td", {});
  const row = (p) =>
    h(
      "tr",
      { "data-parked": p.id, "data-ref": p.ref },
      h("td", {}, pick(p)),
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
      h("td", { class: "event-cell" }, `${p.type} (${p.stream} v${p.version})`),
      h(
        "td",
        {},
        h("span", { class: `status status-${slug(p.status)}` }, p.status),
        p.kind !== "failed" ? h("span", { class: "badge" }, p.kind) : null,
        p.reason ? h("div", { class: "small muted" }, p.reason) : null,
      ),
      h(
        "td",
        { class: "danger-text small error-cell" },
        p.error,
        p.attempts > 1 ? ` (${p.attempts} attempts)` : "",
      ),
      h("td", {}, timeEl(p.parked_at)),
      actions(p),
    );
  const columns = ["", "Projection", "Position", "Event", "Status", "Error", "Parked at", ""];
  fill(container, dataTable(columns, rows.map(row), "parked-table"));
}
