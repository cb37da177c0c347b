// What a room's reader can change from the timeline and the header: edit and
// delete a message, rename and archive the room. The stream shows the outcome.

import { command } from "./api.js";
import { fill } from "./dom.js";
import { renameForm } from "./forms.js";
import { editInPlace } from "./timeline.js";

/**
 * The room's command handlers. `attempt` runs a request and shows its error;
 * `room()` is the room as last read; `setEditing` marks the message being
 * edited so redraws keep its editor; `reload` reads the room again.
 */
export function roomCommands(path, attempt, options) {
  const { ol, store, room, title, setEditing, redraw, reload, cancelRename } = options;
  const messagePath = (id) => `${path}/messages/${encodeURIComponent(id)}`;

  async function editMessage(id) {
    const li = ol.querySelector(`[data-message-id="${CSS.escape(id)}"]`);
    const message = store.byId.get(id);
    if (!li || !message) return;
    setEditing(id);
    const body = await editInPlace(li, message.body);
    setEditing(null);
    if (body !== null && body !== message.body) {
      await attempt(() => command("PATCH", messagePath(id), { body }));
    }
    redraw();
  }

  async function deleteMessage(id) {
    if (!confirm("Delete this message?")) return;
    await attempt(() => command("DELETE", messagePath(id)));
  }

  function renameRoom() {
    const rename = renameForm(room().name, {
      onCancel: cancelRename,
      onSave: async (name) => {
        const done = await attempt(() => command("POST", `${path}/rename`, { name }));
        if (done) reload();
      },
    });
    fill(title, rename.form);
    rename.focus();
  }

  async function archiveRoom() {
    if (!confirm(`Archive ${room().name}? Nobody can post in it afterwards.`)) return;
    const done = await attempt(() => command("POST", `${path}/archive`));
    if (done) reload();
  }

  return { editMessage, deleteMessage, renameRoom, archiveRoom };
}
