// The audit log, for superusers: filters by action, user and token, each event's context shown
// as readable lines; key views, rotations and suspicious requests stand out.
import { get } from "./api.js";
import { h, time, pager, loading, failure } from "./ui.js";

const LOUD = new Set(["secret_view", "secret_rotate", "suspicious_request"]);
const ACTIONS = ["", "model_created", "model_updated", "model_deleted", "secret_view", "secret_rotate",
  "suspicious_request", "login", "login_failed", "logout"];

function contextLines(ctx, prefix = "") {
  const out = [];
  for (const [k, v] of Object.entries(ctx || {})) {
    if (v && typeof v === "object" && !Array.isArray(v)) out.push(...contextLines(v, prefix + k + "."));
    else out.push(h("div", {}, h("span", { class: "muted" }, prefix + k + ": "), Array.isArray(v) ? v.join(", ") : String(v)));
  }
  return out;
}

export async function eventsPage(view) {
  const f = { page: 1, action: "", username: "", token: "" };
  const action = h("select", { id: "ev-action" }, ACTIONS.map((a) => h("option", { value: a }, a || "any action")));
  const user = h("input", { id: "ev-user", type: "text" });
  const token = h("input", { id: "ev-token", type: "text", placeholder: "identifier" });
  const list = h("div", { class: "tablewrap" });
  view.replaceChildren(h("h1", {}, "Events"),
    h("form", { class: "filters", role: "search", onsubmit: (e) => {
      e.preventDefault();
      Object.assign(f, { page: 1, action: action.value, username: user.value.trim(), token: token.value.trim() });
      refresh();
    } },
      h("div", { class: "field" }, h("label", { for: "ev-action" }, "Action"), action),
      h("div", { class: "field" }, h("label", { for: "ev-user" }, "User"), user),
      h("div", { class: "field" }, h("label", { for: "ev-token" }, "Token"), token),
      h("button", { type: "submit" }, "Apply")),
    list);
  async function refresh() {
    loading(list);
    try {
      let tokenPk;
      if (f.token) {
        const t = await get(`core/tokens/${encodeURIComponent(f.token)}/`).catch(() => null);
        if (!t) throw new Error(`No token “${f.token}”.`);
        tokenPk = t.pk;
      }
      const data = await get("events/events/", { page: f.page, page_size: 20, action: f.action,
        username: f.username, context_model_pk: tokenPk });
      list.replaceChildren(h("table", { id: "events" },
        h("thead", {}, h("tr", {}, ["When", "Action", "User", "Client", "Context"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, data.results.length ? data.results.map((e) => h("tr", { class: LOUD.has(e.action) ? "loud" : "" },
          h("td", {}, time(e.created)),
          h("th", { scope: "row" }, h("span", { class: LOUD.has(e.action) ? "badge bad" : "badge" }, e.action)),
          h("td", {}, e.user && e.user.username ? e.user.username : h("span", { class: "muted" }, "tokend")),
          h("td", {}, e.client_ip || "—"),
          h("td", { class: "context" }, contextLines(e.context))))
          : h("tr", {}, h("td", { colspan: 5, class: "muted" }, "No events.")))),
        pager(data.pagination, (n) => { f.page = n; refresh(); }));
    } catch (err) {
      failure(list, err);
    }
  }
  await refresh();
}
