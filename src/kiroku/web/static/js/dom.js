// Small DOM helpers. Text always goes in through textContent, never as HTML.

/**
 * Build an element: h("button", {class: "x", onclick: fn}, "label", child, ...).
 * Attributes starting with "on" become listeners; null/false attributes are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace all children of an element. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

/** A timestamp for people: the time today, the date and time otherwise. */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const today = new Date().toDateString() === date.toDateString();
  return today ? timeFormat.format(date) : dateTimeFormat.format(date);
}

export function fullTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso ?? "") : dateTimeFormat.format(date);
}

/** A <time> element with the machine-readable value and a readable label. */
export function timeEl(iso, full = false) {
  if (!iso) return null;
  return h("time", { datetime: iso, title: fullTime(iso) }, full ? fullTime(iso) : when(iso));
}

/** A CSS-safe word for a state or outcome: "catching up" -> "catching-up". */
export const slug = (text) =>
  String(text ?? "")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-");

/** A data table with a header row, scrolling sideways on small screens. */
export function dataTable(columns, bodyRows, id) {
  return h(
    "div",
    { class: "table-scroll" },
    h(
      "table",
      { class: "data", id },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          columns.map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h("tbody", {}, bodyRows),
    ),
  );
}

/** Pretty JSON for inspection panes. */
export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value, null, 2));
}

/** Run fn at most once per animation-free delay, coalescing bursts (e.g. many SSE events). */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
