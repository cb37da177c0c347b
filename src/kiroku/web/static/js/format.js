// Message formatting without HTML: links, `code` and **bold** become DOM nodes
// built from text, so nothing a user writes is ever parsed as markup (the page's
// CSP and its no-innerHTML rule stay). Relative times with the full time on hover.

import { fullTime, h } from "./dom.js";

const CODE = /`([^`\n]+)`/g;
const BOLD = /\*\*([^*\n]+)\*\*/g;
const LINK = /\bhttps?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g;

/** Nodes for one message body: `code` spans first, then **bold** and links inside the rest. */
export function richText(text) {
  return splitBy(String(text ?? ""), CODE, (code) => h("code", {}, code[1]), bolded);
}

function bolded(text) {
  return splitBy(text, BOLD, (bold) => h("strong", {}, linked(bold[1])), linked);
}

function linked(text) {
  return splitBy(
    text,
    LINK,
    (url) => h("a", { href: url[0], target: "_blank", rel: "noopener noreferrer nofollow" }, url[0]),
    (rest) => [rest],
  );
}

/** Split text at each match of pattern: matches through make(), the rest through plain(). */
function splitBy(text, pattern, make, plain) {
  const out = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    if (match.index > last) out.push(...plain(text.slice(last, match.index)));
    out.push(make(match));
    last = match.index + match[0].length;
  }
  if (last < text.length) out.push(...plain(text.slice(last)));
  return out;
}

const MINUTE = 60_000;

/** "just now", "5 min ago", "3 h ago", else the date: how long ago iso was. */
export function ago(iso, now = Date.now()) {
  const time = new Date(iso).getTime();
  if (Number.isNaN(time)) return String(iso ?? "");
  const minutes = Math.floor((now - time) / MINUTE);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  if (minutes < 24 * 60) return `${Math.floor(minutes / 60)} h ago`;
  return new Date(iso).toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

/** A <time> showing how long ago, with the full date and time on hover. */
export function relativeTime(iso) {
  if (!iso) return null;
  return h("time", { datetime: iso, title: fullTime(iso), "data-relative": "" }, ago(iso));
}

/** Bring every relative time under root up to date (call once a minute). */
export function refreshTimes(root) {
  for (const el of root.querySelectorAll("time[data-relative]")) {
    el.textContent = ago(el.getAttribute("datetime"));
  }
}

/** The minute a message was posted in, to group a run of one author's messages. */
export const minuteOf = (iso) => String(iso ?? "").slice(0, 16);
