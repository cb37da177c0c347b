// The read side's health as the chat page needs it: are projections failing or
// behind? A post is accepted by the write side even when the read side cannot
// show it, so the page reads /readyz and says "messages are delayed" rather
// than a green "Live" over a timeline that is not moving.

const EVERY_MS = 4000;

/** Poll /readyz; onChange({ delayed, failing, behind }) when the answer changes. Returns stop(). */
export function watchHealth(onChange) {
  let last = "";
  let timer = null;
  let stopped = false;
  async function check() {
    let health = { delayed: false, failing: [], behind: [] };
    try {
      const response = await fetch("/readyz", { headers: { Accept: "application/json" } });
      const body = await response.json();
      const failing = Array.isArray(body.failing) ? body.failing : [];
      const behind = Array.isArray(body.behind) ? body.behind : [];
      health = { delayed: failing.length + behind.length > 0, failing, behind };
    } catch {
      // the server is unreachable: the live stream's own status says so
    }
    const key = JSON.stringify(health);
    if (!stopped && key !== last) {
      last = key;
      onChange(health);
    }
    if (!stopped) timer = setTimeout(check, EVERY_MS);
  }
  check();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
