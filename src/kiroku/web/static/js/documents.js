// An app's read models, for apps other than the chat: each projection's
// collections and their documents, a page at a time (GET /api/read/...).

import { get, listOf } from "./api.js";
import { fill, h, json } from "./dom.js";

/** Render the documents browser into main; returns a cleanup function. */
export function renderDocuments(main, ctx, app) {
  const picker = h("div", { class: "row wrap", id: "collections" });
  const list = h("div", { id: "documents" });
  const more = h("button", { type: "button", hidden: true }, "More");
  let current = null;
  let next = null;

  async function loadCollections() {
    const found = [];
    for (const name of app.projections) {
      const answer = await ctx.attempt(() => get(`/api/read/${encodeURIComponent(name)}`));
      for (const c of listOf(answer ?? {}, "collections")) found.push([name, c]);
    }
    fill(
      picker,
      found.length
        ? found.map(([p, c]) =>
            h("button", { type: "button", onclick: () => open(p, c, true) }, `${p} / ${c}`),
          )
        : h("p", { class: "muted" }, "No documents yet: the projections have written nothing."),
    );
  }

  async function open(projection, collection, fresh) {
    if (fresh) {
      current = { projection, collection };
      next = null;
      fill(list);
    }
    const path = `/api/read/${encodeURIComponent(projection)}/${encodeURIComponent(collection)}`;
    const answer = await ctx.attempt(() => get(path, { after: next ?? "", limit: 50 }));
    if (!answer) return;
    next = answer.next ?? null;
    more.hidden = !next;
    list.append(
      ...listOf(answer, "documents").map((d) =>
        h("section", { class: "card document", "data-id": d.id }, h("h3", {}, d.id), json(d.doc)),
      ),
    );
  }
  more.addEventListener("click", () => current && open(current.projection, current.collection));

  fill(
    main,
    h(
      "div",
      { class: "ops" },
      h("h1", {}, app.name),
      h("p", { class: "muted" }, "The documents this app's projections keep."),
      picker,
      list,
      more,
    ),
  );
  loadCollections();
  return () => {};
}
