// Reading a room scrolled up: messages that arrive below are counted, the first
// of them is marked "New messages", and a button jumps to the bottom. Scrolling
// to the bottom clears both. While the tab is hidden, arrivals are counted in
// the tab's title.

import { h } from "./dom.js";
import { setUnseen } from "./title.js";

const NEAR_PX = 80;

export function newMessages(scroller) {
  const s = { firstNewId: null, count: 0, hidden: 0 };
  const jump = h(
    "button",
    { type: "button", class: "jump-bottom", id: "jump-bottom", hidden: true },
    "",
  );
  const nearBottom = () =>
    scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < NEAR_PX;
  const drawJump = () => {
    jump.hidden = s.count === 0;
    jump.textContent = `↓ ${s.count} new message${s.count === 1 ? "" : "s"}`;
  };
  const clear = () => {
    s.count = 0;
    drawJump();
  };
  jump.addEventListener("click", () => {
    scroller.scrollTop = scroller.scrollHeight;
    clear();
  });
  scroller.addEventListener("scroll", () => {
    if (nearBottom()) clear();
  });
  const onVisible = () => {
    if (!document.hidden) {
      s.hidden = 0;
      setUnseen(0);
    }
  };
  document.addEventListener("visibilitychange", onVisible);
  return {
    jump,
    nearBottom,
    firstNewId: () => s.firstNewId,
    /** Someone else's message arrived; call before drawing it. */
    arrived(id) {
      if (document.hidden) setUnseen((s.hidden += 1));
      if (nearBottom() && !document.hidden) return;
      if (!s.count) s.firstNewId = id;
      s.count += 1;
      drawJump();
    },
    /** The reader is back at the bottom after a reload: the marker goes. */
    reset() {
      s.firstNewId = null;
      clear();
    },
    close() {
      document.removeEventListener("visibilitychange", onVisible);
      setUnseen(0);
    },
  };
}
