// The event catalog drawn as SVG by this page, from GET /api/admin/catalog's JSON:
// aggregates (left) emit event types (middle), consumers (right) handle them, and
// the commands process managers send run back to their aggregates as dashed arcs.
// No layout library: three columns in declaration order are enough for people to
// read a catalog, and the Mermaid text is offered beside it for other tools.

import { get } from "./api.js";
import { fill, h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const ROW = 34; // vertical distance between nodes in a column
const NODE_H = 24;
const COLUMNS = { aggregate: 20, event: 270, consumer: 560 };
const WIDTHS = { aggregate: 150, event: 210, consumer: 190 };
const TOP = 36;

/** The catalog section's body: the drawing, warnings and the Mermaid source. */
export function catalogView(ctx) {
  const el = h("div", { id: "catalog" }, h("p", { class: "muted" }, "Loading the catalog…"));

  async function load() {
    const answer = await ctx.attempt(() => get("/api/admin/catalog"));
    if (!answer) return;
    const catalog = answer.catalog ?? {};
    const warnings = catalog.warnings ?? [];
    fill(
      el,
      drawCatalog(catalog),
      warnings.length
        ? h("ul", { class: "catalog-warnings small" }, warnings.map((w) => h("li", {}, w)))
        : null,
      h(
        "details",
        { class: "small" },
        h("summary", {}, "Mermaid source"),
        h("pre", { class: "json", id: "catalog-mermaid" }, answer.mermaid ?? ""),
      ),
    );
  }
  return { el, load };
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  for (const child of children) {
    if (child) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Node boxes in three columns, keyed "kind:name", each with its anchor points. */
function layout(catalog) {
  const nodes = new Map();
  const place = (kind, names) =>
    names.forEach((name, i) => {
      const x = COLUMNS[kind];
      const y = TOP + i * ROW;
      nodes.set(`${kind}:${name}`, { kind, name, x, y, w: WIDTHS[kind] });
    });
  place("aggregate", (catalog.aggregates ?? []).map((a) => a.category));
  place("event", (catalog.events ?? []).map((e) => e.name));
  place("consumer", (catalog.consumers ?? []).map((c) => c.name));
  return nodes;
}

/** Every edge as [from, to, kind, label]: emits, handles, and sends (back to aggregates). */
function edges(catalog) {
  const found = [];
  for (const e of catalog.events ?? []) {
    for (const a of e.emitted_by ?? []) found.push([`aggregate:${a}`, `event:${e.name}`, "emits"]);
    for (const c of e.handled_by ?? []) found.push([`event:${e.name}`, `consumer:${c}`, "handles"]);
  }
  for (const c of catalog.consumers ?? []) {
    for (const send of c.sends ?? []) {
      for (const target of send.to ?? []) {
        found.push([`consumer:${c.name}`, `aggregate:${target}`, "sends", send.command]);
      }
    }
  }
  return found;
}

function path(from, to, kind) {
  const mid = (n) => n.y + NODE_H / 2;
  if (kind === "sends") {
    // From the consumer's right edge, over the top of the drawing, into the aggregate's top.
    const sx = from.x + from.w;
    const tx = to.x + to.w / 2;
    const lift = 14 + (from.y % 7);
    return `M ${sx} ${mid(from)} C ${sx + 40} ${mid(from)}, ${sx + 40} ${lift}, ${sx} ${lift} L ${tx + 20} ${lift} C ${tx} ${lift}, ${tx} ${lift}, ${tx} ${to.y}`;
  }
  const sx = from.x + from.w;
  const tx = to.x;
  const bend = (tx - sx) / 2;
  return `M ${sx} ${mid(from)} C ${sx + bend} ${mid(from)}, ${tx - bend} ${mid(to)}, ${tx} ${mid(to)}`;
}

function drawCatalog(catalog) {
  const nodes = layout(catalog);
  const rows = Math.max(1, ...["aggregate", "event", "consumer"].map((k) => count(nodes, k)));
  const width = COLUMNS.consumer + WIDTHS.consumer + 60;
  const height = TOP + rows * ROW + 10;
  const title = `Event catalog: ${count(nodes, "aggregate")} aggregates, ${count(nodes, "event")} event types, ${count(nodes, "consumer")} consumers`;
  const drawing = svg(
    "svg",
    {
      id: "catalog-graph",
      class: "catalog-graph",
      role: "img",
      "aria-label": title,
      viewBox: `0 0 ${width} ${height}`,
      width,
      height,
    },
    svg("title", {}, title),
    defs(),
    ...Object.entries({ aggregate: "Aggregates", event: "Event types", consumer: "Consumers" }).map(
      ([kind, label]) => svg("text", { x: COLUMNS[kind], y: 16, class: "catalog-heading" }, label),
    ),
  );
  for (const [from, to, kind, label] of edges(catalog)) {
    const a = nodes.get(from);
    const b = nodes.get(to);
    if (!a || !b) continue;
    drawing.append(
      svg(
        "path",
        {
          d: path(a, b, kind),
          class: `catalog-edge catalog-${kind}`,
          "marker-end": "url(#catalog-arrow)",
          "data-from": from,
          "data-to": to,
        },
        label ? svg("title", {}, `${a.name} sends ${label} to ${b.name}`) : null,
      ),
    );
  }
  for (const node of nodes.values()) drawing.append(box(node));
  return h("div", { class: "catalog-scroll" }, drawing);
}

const count = (nodes, kind) => [...nodes.values()].filter((n) => n.kind === kind).length;

function defs() {
  return svg(
    "defs",
    {},
    svg(
      "marker",
      {
        id: "catalog-arrow",
        viewBox: "0 0 10 10",
        refX: 9,
        refY: 5,
        markerWidth: 7,
        markerHeight: 7,
        orient: "auto-start-reverse",
      },
      svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "catalog-arrowhead" }),
    ),
  );
}

function box(node) {
  const shape = node.kind === "consumer" ? NODE_H / 2 : node.kind === "event" ? 4 : 0;
  const label = node.name.length > 30 ? `${node.name.slice(0, 29)}…` : node.name;
  return svg(
    "g",
    { class: `catalog-node catalog-${node.kind}`, "data-node": `${node.kind}:${node.name}` },
    svg("title", {}, `${node.kind} ${node.name}`),
    svg("rect", { x: node.x, y: node.y, width: node.w, height: NODE_H, rx: shape }),
    svg("text", { x: node.x + 8, y: node.y + NODE_H / 2 + 4 }, label),
  );
}
