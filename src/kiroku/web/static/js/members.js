// The member panel of a room: who is in it, adding and removing people.

import { command } from "./api.js";
import { fill, h } from "./dom.js";

/** Draw the members of `room` into `panel`; `readOnly` hides the controls. */
export function drawMembers(panel, room, { ctx, roomPath, readOnly }) {
  const members = room.members || [];
  const list = h(
    "ul",
    { class: "members", id: "member-list" },
    members.map((user) =>
      h(
        "li",
        { "data-member": user },
        h("span", { class: "member-name" }, user),
        user === room.owner ? h("span", { class: "badge" }, "owner") : null,
        user === ctx.me.name ? h("span", { class: "badge" }, "you") : null,
        readOnly ? null : removeButton(user, room, ctx, roomPath),
      ),
    ),
  );
  fill(
    panel,
    h("h3", { id: "members-title" }, `Members (${members.length})`),
    list,
    readOnly ? null : addMemberForm(ctx, roomPath),
  );
}

/** The owner may remove anyone else; any other member may leave. */
function removeButton(user, room, ctx, roomPath) {
  const me = ctx.me.name;
  if (user === room.owner || (me !== room.owner && user !== me)) return null;
  const leaving = user === me;
  const label = leaving ? "Leave this room" : `Remove ${user}`;
  const question = leaving ? `Leave ${room.name}?` : `Remove ${user} from ${room.name}?`;
  return h(
    "button",
    {
      type: "button",
      class: leaving ? "link danger" : "icon danger",
      "aria-label": label,
      title: label,
      onclick: () => {
        if (!confirm(question)) return;
        ctx.attempt(() => command("DELETE", `${roomPath}/members/${encodeURIComponent(user)}`));
      },
    },
    leaving ? "Leave" : "×",
  );
}

function addMemberForm(ctx, roomPath) {
  const input = h("input", {
    id: "add-member",
    name: "user",
    required: true,
    autocomplete: "off",
    placeholder: "User name",
  });
  const form = h(
    "form",
    { class: "add-member" },
    h("label", { for: "add-member", class: "visually-hidden" }, "User to add"),
    input,
    h("button", { type: "submit" }, "Add"),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const done = await ctx.attempt(() =>
      command("POST", `${roomPath}/members`, { user: input.value.trim() }),
    );
    if (done) form.reset();
  });
  return form;
}
