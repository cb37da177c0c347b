// One open room: header, live timeline, composer, members and the time slider.

import { command, listOf, notePosition, read } from "./api.js";
import { debounce, fill, h } from "./dom.js";
import { refreshTimes } from "./format.js";
import { composerForm } from "./forms.js";
import { followRoom } from "./live.js";
import { newMessages } from "./newmarker.js";
import { roomAttempt } from "./roomerrors.js";
import { endedText, roomStatus } from "./roomstatus.js";
import { setTitleBase } from "./title.js";
import { drawMembers } from "./members.js";
import { readMarker } from "./readmarks.js";
import { roomCommands } from "./roomcommands.js";
import { placeMissingRoom, placeRoom, roomElements } from "./roomlayout.js";
import { drawBanner, drawRoomActions } from "./roomhead.js";
import { drawTimeline, MessageStore, shortType } from "./timeline.js";
import { readHistory, timeSlider } from "./timetravel.js";

const PAGE = 50;
const MINUTE_MS = 60_000;
let pendingIds = 0;

/** Render room `roomId` into pane; returns a cleanup function. */
export function renderRoom(pane, ctx, roomId) {
  const path = `/api/rooms/${encodeURIComponent(roomId)}`;
  const s = {
    room: null, // details: name, members, owner, archived, version
    store: new MessageStore(),
    asOf: null, // the history entry shown, or null for live
    buffered: null, // events that arrived while a snapshot was loading
    editingId: null,
    hasOlder: false,
    history: null, // the room's events, loaded when the slider opens
    closed: false,
    membersShown: matchMedia("(min-width: 761px)").matches,
  };

  const { title, headerActions, banner, older, ol, scroller, membersPanel } = roomElements(
    s.membersShown,
  );
  const status = roomStatus(() => draw(false));
  const travel = timeSlider((entry) => moveTo(entry));
  travel.el.hidden = true;
  const fresh = newMessages(scroller);
  const composer = composerForm(send);

  const attempt = roomAttempt(ctx, roomId, () => s.room?.name);

  /** Show one's message at once; the write side's answer marks it sent, the stream confirms. */
  async function send(body) {
    const tempId = `pending-${(pendingIds += 1)}`;
    const now = new Date().toISOString();
    s.store.addPending(tempId, { author: ctx.me.name, body, posted_at: now, deleted: false });
    draw(true);
    const done = await attempt(() => command("POST", `${path}/messages`, { body }));
    if (done) s.store.confirmSent(tempId, done.message_id, done.position);
    else s.store.dropPending(tempId);
    draw(false);
    return done;
  }

  placeRoom(pane, { title, headerActions, banner, scroller, membersPanel }, {
    status: status.el,
    travel: travel.el,
    jump: fresh.jump,
    composer: composer.form,
  });

  // ---- reading --------------------------------------------------------------

  const asOfParam = () => (s.asOf ? { as_of: s.asOf.position } : {});

  // Each load remembers which request it is; an answer overtaken by a newer
  // request (the slider moved on meanwhile) is dropped, never drawn.
  const latest = { room: 0, messages: 0 };

  async function loadRoom() {
    const ticket = ++latest.room;
    const room = await attempt(() => read(path, asOfParam()));
    if (!room || s.closed || ticket !== latest.room) return;
    s.room = room;
    drawHeader();
  }

  async function loadMessages() {
    const ticket = ++latest.messages;
    s.buffered = [];
    const answer = await attempt(() => read(`${path}/messages`, { limit: PAGE, ...asOfParam() }));
    if (ticket !== latest.messages) return;
    const pending = s.buffered;
    s.buffered = null;
    if (!answer || s.closed) return;
    const page = listOf(answer, "messages");
    s.store.reset(page);
    if (!s.asOf) for (const entry of pending) s.store.apply(entry);
    s.hasOlder = page.length >= PAGE;
    fresh.reset();
    draw(true);
    markRead();
  }

  async function loadOlder() {
    const answer = await ctx.attempt(() =>
      read(`${path}/messages`, { limit: PAGE, before: s.store.oldestId, ...asOfParam() }),
    );
    if (!answer || s.closed) return;
    const page = listOf(answer, "messages");
    const height = scroller.scrollHeight;
    s.store.addOlder(page);
    s.hasOlder = page.length >= PAGE;
    draw(false);
    scroller.scrollTop += scroller.scrollHeight - height; // keep the reader's place
  }
  older.addEventListener("click", loadOlder);

  // ---- drawing --------------------------------------------------------------

  const readOnly = () => Boolean(s.asOf || s.room?.archived);

  function draw(toBottom) {
    const nearBottom = fresh.nearBottom();
    drawTimeline(ol, s.store, {
      firstNewId: fresh.firstNewId(),
      delayed: status.delayed(),
      me: ctx.me.name,
      owner: s.room?.owner,
      readOnly: readOnly(),
      editingId: s.editingId,
      onEdit: editMessage,
      onDelete: deleteMessage,
    });
    older.hidden = !s.hasOlder;
    if (!ol.children.length) ol.append(h("li", { class: "muted empty-list" }, "No messages yet."));
    if (toBottom || nearBottom) scroller.scrollTop = scroller.scrollHeight;
  }

  function drawHeader() {
    const room = s.room;
    setTitleBase(`${room.name} · kiroku`);
    fill(title, room.name, room.archived ? h("span", { class: "badge" }, "archived") : null);
    drawRoomActions(headerActions, room, {
      me: ctx.me.name,
      readOnly: readOnly(),
      membersShown: s.membersShown,
      historyShown: !travel.el.hidden,
      on: {
        members: toggleMembers,
        history: toggleHistory,
        rename: renameRoom,
        archive: archiveRoom,
      },
    });
    drawBanner(banner, room, s.asOf);
    composer.setDisabled(readOnly());
    drawMembers(membersPanel, room, { ctx: { ...ctx, attempt }, roomPath: path, readOnly: readOnly() });
    draw(false);
  }

  // ---- live updates ---------------------------------------------------------

  const refreshRoom = debounce(loadRoom, 100);
  const reloadAll = debounce(() => {
    loadRoom();
    loadMessages();
  }, 150);

  function onStreamEvent(entry) {
    if (!entry) {
      reloadAll(); // not an event entry: treat it as "something changed"
      return;
    }
    notePosition(entry.position); // the SSE id is the room version, not a position
    if (s.history && entry.version > (s.history.at(-1)?.version ?? 0)) {
      s.history.push(entry);
      travel.setEntries(s.history);
    }
    ctx.refreshList();
    if (s.asOf) return; // the past does not change; going back to live reloads
    if (s.buffered) s.buffered.push(entry);
    const type = shortType(entry.type);
    const theirs = type === "MessagePosted" && entry.data?.author !== ctx.me.name;
    if (theirs && !s.store.byId.has(entry.data?.message_id)) fresh.arrived(entry.data.message_id);
    if (s.store.apply(entry)) {
      if (theirs) reads.arrived();
      draw(false);
      markRead();
    } else if (type === "MemberRemoved" && entry.data?.user === ctx.me.name) {
      if (entry.data.by !== ctx.me.name)
        ctx.showError(new Error("You were removed from this room."));
      ctx.navigate("#/rooms");
    } else if (type !== "MessagePosted" && type !== "ReadMarked") {
      refreshRoom();
    }
  }

  // The stream starts right after the version the room details showed, so
  // nothing between the first reads and the connection is missed; events the
  // first message page already holds are applied again harmlessly.
  let stream = null;
  function connect(version) {
    stream = followRoom(path, version, {
      onEntry: onStreamEvent,
      onStatus: (state) => {
        status.setStream(state);
        if (state === "offline" && !s.closed) {
          ctx.showError(new Error("Live updates stopped. Reload the page to reconnect."));
        }
      },
      onEnd: (reason) => {
        if (s.closed) return;
        fill(banner, h("p", { class: "ended", role: "alert" }, endedText(reason)));
        banner.hidden = false;
        composer.setDisabled(true);
      },
      // The server resumes from Last-Event-ID; reload anyway after a reconnect
      // in case it restarted with a rebuilt read model.
      onReconnect: reloadAll,
    });
  }

  // ---- commands -------------------------------------------------------------

  const reads = readMarker({
    path,
    unreadOf: () => ctx.unreadOf(roomId),
    newest: () => s.store.newestFrom((author) => author !== ctx.me.name),
    canMark: () => !s.closed && !s.asOf && Boolean(s.room?.members?.includes(ctx.me.name)),
    onMarked: ctx.refreshList,
  });
  const markRead = reads.mark;

  const { editMessage, deleteMessage, renameRoom, archiveRoom } = roomCommands(path, attempt, {
    ol,
    store: s.store,
    room: () => s.room,
    title,
    setEditing: (id) => {
      s.editingId = id;
    },
    redraw: () => draw(false),
    reload: loadRoom,
    cancelRename: drawHeader,
  });

  // ---- time travel ----------------------------------------------------------

  function toggleMembers() {
    s.membersShown = !s.membersShown;
    membersPanel.hidden = !s.membersShown;
    drawHeader();
  }

  async function toggleHistory() {
    travel.el.hidden = !travel.el.hidden;
    if (!travel.el.hidden) {
      const entries = await attempt(() => readHistory(path));
      if (entries && !travel.el.hidden) {
        s.history = entries;
        travel.setEntries(s.history);
        travel.focus();
      }
    } else {
      s.history = null;
      if (s.asOf) moveTo(null);
    }
    drawHeader();
  }

  function moveTo(entry) {
    s.asOf = entry;
    s.editingId = null;
    loadRoom();
    loadMessages();
  }

  (async () => {
    await loadRoom();
    if (s.closed) return;
    if (!s.room) {
      placeMissingRoom(pane);
      return;
    }
    connect(s.room.version);
    loadMessages();
  })();
  const ticking = setInterval(() => refreshTimes(ol), MINUTE_MS);
  return () => {
    s.closed = true;
    stream?.close();
    reads.close();
    status.close();
    fresh.close();
    clearInterval(ticking);
  };
}
