// The page shell: sign-in, navigation between views, and the error notices.

import { ApiError, getToken, request, setToken } from "./api.js";
import { renderChat } from "./chat.js";
import { fill, h } from "./dom.js";
import { renderDocuments } from "./documents.js";
import { renderOps } from "./ops.js";
import { setTitleBase, setUnread, setUnseen } from "./title.js";

function resetTitle(base) {
  setUnread(0);
  setUnseen(0);
  setTitleBase(base);
}

const main = document.getElementById("main");
const notices = document.getElementById("notices");
const MAX_NOTICES = 4;
const NOTICE_MS = 8000; // notices dismiss themselves; the × closes one sooner

let me = null; // {name, admin} of the signed-in user
let served = { chat: true }; // GET /api/app: which app the server runs
let cleanup = () => {}; // closes the current view's streams and timers

/** Show an error to the user: problem+json title and detail, dismissable. */
export function showError(error) {
  if (error instanceof ApiError && error.status === 401) {
    signOut("Your token is no longer accepted. Please sign in again.");
    return;
  }
  const title = error instanceof ApiError ? error.title : "Something went wrong";
  const detail = error instanceof ApiError ? error.detail : String(error?.message ?? error);
  const status = error instanceof ApiError && error.status ? ` (${error.status})` : "";
  const notice = h(
    "div",
    { class: "notice error", role: "alert" },
    h("div", {}, h("strong", {}, title + status), detail ? h("p", {}, detail) : null),
    h(
      "button",
      { type: "button", class: "icon", "aria-label": "Dismiss", onclick: () => notice.remove() },
      "×",
    ),
  );
  notices.append(notice);
  while (notices.children.length > MAX_NOTICES) notices.firstElementChild.remove();
  setTimeout(() => notice.remove(), NOTICE_MS);
}

/** Run an async action, showing its error if it fails; resolves to its result or undefined. */
export async function attempt(action) {
  try {
    return await action();
  } catch (error) {
    showError(error);
    return undefined;
  }
}

function signOut(message) {
  setToken(null);
  me = null;
  renderSignIn(message);
}

function renderSignIn(message) {
  cleanup();
  cleanup = () => {};
  document.getElementById("nav").hidden = true;
  document.getElementById("whoami").hidden = true;
  resetTitle("Sign in · kiroku");
  document.body.dataset.view = "signin";
  const input = h("input", {
    id: "token",
    name: "token",
    type: "password",
    autocomplete: "current-password",
    required: true,
    spellcheck: "false",
  });
  const error = h("p", { class: "form-error", id: "token-error", role: "alert" }, message || "");
  const form = h(
    "form",
    { class: "card signin", "aria-labelledby": "signin-title" },
    h("h1", { id: "signin-title" }, "Sign in"),
    h(
      "p",
      { class: "muted" },
      "Paste the token printed by ",
      h("code", {}, "kiroku users add NAME"),
      " (or by ",
      h("code", {}, "kiroku serve --demo"),
      ").",
    ),
    h("label", { for: "token" }, "Token"),
    input,
    error,
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  const demo = h("div", { class: "demo-users", id: "demo-users", hidden: true });
  form.append(demo);
  offerDemoUsers(demo, (token) => {
    input.value = token;
    form.requestSubmit();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    try {
      me = await request("GET", "/api/me", { token });
      served = await request("GET", "/api/app", { token });
    } catch (failure) {
      error.textContent =
        failure instanceof ApiError && failure.status === 401
          ? "That token is not valid."
          : `Cannot sign in: ${failure.message}`;
      input.setAttribute("aria-invalid", "true");
      input.focus();
      return;
    }
    setToken(token);
    signedIn();
  });
  fill(main, form);
  input.focus();
}

/** Under `kiroku serve --demo` the server lists its demo users; offer one-click sign-in. */
async function offerDemoUsers(container, signInWith) {
  let answer;
  try {
    answer = await request("GET", "/api/demo", { token: null });
  } catch {
    return; // not a demo server (404): nothing to offer
  }
  const users = answer?.users ?? [];
  if (!users.length) return;
  fill(
    container,
    h("p", { class: "muted" }, "Or try it as a demo user:"),
    h(
      "div",
      { class: "row" },
      users.map((user) =>
        h(
          "button",
          { type: "button", onclick: () => signInWith(user.token) },
          user.admin ? `${user.name} (admin)` : user.name,
        ),
      ),
    ),
  );
  container.hidden = false;
}

function signedIn() {
  document.getElementById("nav").hidden = false;
  document.getElementById("whoami").hidden = false;
  document.getElementById("whoami-name").textContent = me.name + (me.admin ? " (admin)" : "");
  document.getElementById("nav-ops").hidden = !me.admin;
  document.querySelector('[data-nav="rooms"]').textContent = served.chat ? "Chat" : "Documents";
  if (!location.hash || location.hash === "#" || location.hash === "#/") location.hash = "#/rooms";
  else route();
}

/** Render the view for the current location hash: #/rooms, #/rooms/<id>, #/ops. */
function route() {
  if (!me) return;
  cleanup();
  cleanup = () => {};
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  for (const link of document.querySelectorAll("[data-nav]")) {
    const current = link.dataset.nav === (parts[0] || "rooms");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  const ctx = { me, showError, attempt, navigate: (hash) => (location.hash = hash) };
  document.body.dataset.view = parts[0] === "ops" && me.admin ? "ops" : "chat";
  if (parts[0] === "ops" && me.admin) {
    resetTitle("Operations · kiroku");
    cleanup = renderOps(main, ctx);
  } else if (!served.chat) {
    resetTitle(`${served.name} · kiroku`);
    cleanup = renderDocuments(main, ctx, served);
  } else {
    const roomId = parts[0] === "rooms" ? parts[1] || null : null;
    cleanup = renderChat(main, ctx, roomId);
  }
}

async function boot() {
  document.getElementById("sign-out").addEventListener("click", () => signOut(""));
  window.addEventListener("hashchange", route);
  if (!getToken()) {
    renderSignIn("");
    return;
  }
  try {
    me = await request("GET", "/api/me");
    served = await request("GET", "/api/app");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) signOut("Please sign in again.");
    else {
      fill(main, h("p", { class: "card" }, "The server cannot be reached: ", error.message));
    }
    return;
  }
  signedIn();
}

boot();
