// The console's entry: sign-in (a key checked with users/me/, kept in sessionStorage only), the
// hash routes (#/tokens, #/users, #/users/<pk>, #/groups, #/events, #/account) and sign-out.
import { ApiError, api, key, setKey } from "./api.js";
import { h, loading, failure, time } from "./ui.js";
import { tokensPage } from "./tokens.js";
import { usersPage, userPage, groupsPage } from "./users.js";
import { eventsPage } from "./events.js";

const state = { me: null };

function signedOutMessage(err) {
  if (err.status === 403 || err.status === 401) {
    return "That key is not valid: it is unknown, expired, or its owner is inactive.";
  }
  if (err.status === 429) return err.message;
  return err.message;
}

async function signIn(k) {
  const me = await api("GET", "core/users/me/", undefined, k);
  return me.user;
}

function showSignedOut(message) {
  document.querySelector("header.top").hidden = true;
  document.getElementById("signin").hidden = false;
  document.getElementById("view").replaceChildren();
  document.getElementById("key-error").textContent = message || "";
  document.getElementById("key").focus();
}

function showSignedIn() {
  document.getElementById("signin").hidden = true;
  document.querySelector("header.top").hidden = false;
  for (const a of document.querySelectorAll("[data-superuser]")) a.hidden = !state.me.is_superuser;
  document.getElementById("who").textContent =
    `${state.me.username}${state.me.is_superuser ? " (superuser)" : ""}`;
}

function accountPage(view) {
  const u = state.me;
  view.replaceChildren(h("h1", {}, "Your account"),
    h("dl", { class: "props" },
      h("dt", {}, "Username"), h("dd", {}, u.username),
      h("dt", {}, "Name"), h("dd", {}, u.name || "—"),
      h("dt", {}, "Email"), h("dd", {}, u.email || "—"),
      h("dt", {}, "Superuser"), h("dd", {}, u.is_superuser ? "yes" : "no"),
      h("dt", {}, "Groups"), h("dd", {}, (u.groups || []).map((g) => g.name).join(", ") || "—"),
      h("dt", {}, "Last login"), h("dd", {}, time(u.last_login))));
}

async function route() {
  if (!key()) return showSignedOut();
  if (!state.me) {
    try {
      state.me = await signIn(key());
    } catch (err) {
      setKey(null);
      return showSignedOut(err instanceof ApiError ? signedOutMessage(err) : err.message);
    }
  }
  showSignedIn();
  const view = document.getElementById("view");
  const [, page, arg] = (location.hash || "#/tokens").split("/");
  for (const a of document.querySelectorAll("header nav a")) {
    if (a.getAttribute("href") === `#/${page}`) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const su = state.me.is_superuser;
  loading(view);
  try {
    if (page === "users" && su && arg) await userPage(view, state.me, arg);
    else if (page === "users" && su) await usersPage(view, state.me);
    else if (page === "groups" && su) await groupsPage(view, state.me);
    else if (page === "events" && su) await eventsPage(view, state.me);
    else if (page === "account") accountPage(view);
    else await tokensPage(view, state.me);
  } catch (err) {
    if (err instanceof ApiError && err.status === 403 &&
        /invalid|expired|not provided/i.test(err.message)) {
      state.me = null;
      setKey(null);
      return showSignedOut("Your key stopped working (expired, revoked or rotated). Sign in again.");
    }
    failure(view, err);
  }
}

document.getElementById("signin-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const input = document.getElementById("key");
  const k = input.value.trim();
  const errEl = document.getElementById("key-error");
  if (!k) {
    errEl.textContent = "Paste a key first.";
    input.setAttribute("aria-invalid", "true");
    return;
  }
  errEl.textContent = "Checking…";
  try {
    state.me = await signIn(k);
  } catch (err) {
    input.setAttribute("aria-invalid", "true");
    errEl.textContent = signedOutMessage(err);
    return;
  }
  input.value = "";
  input.removeAttribute("aria-invalid");
  setKey(k);
  if (!location.hash) location.hash = "#/tokens";
  else route();
});

document.getElementById("signout").addEventListener("click", () => {
  setKey(null);
  state.me = null;
  history.replaceState(null, "", location.pathname);
  showSignedOut("Signed out.");
});

window.addEventListener("hashchange", route);
route();
