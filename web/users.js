// Users and groups, for superusers: lists with search and paging; create, edit, deactivate and
// delete users; a user's page with their tokens; create and edit groups (parent, superuser flag,
// members by username).
import { api, get, ApiError } from "./api.js";
import { h, time, expiryBadge, dialog, confirmDialog, form, pager, loading, failure, toast } from "./ui.js";

function searchList(view, title, id, load, render, actions) {
  const f = { page: 1, search: "" };
  const input = h("input", { id: `${id}-search`, type: "search" });
  const table = h("div", { class: "tablewrap" });
  view.replaceChildren(h("div", { class: "pagehead" }, h("h1", {}, title), actions(refresh)),
    h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); f.page = 1; f.search = input.value.trim(); refresh(); } },
      h("div", { class: "field" }, h("label", { for: `${id}-search` }, "Search"), input),
      h("button", { type: "submit" }, "Apply")),
    table);
  async function refresh() {
    loading(table);
    try {
      const data = await load(f);
      table.replaceChildren(render(data.results, refresh), pager(data.pagination, (n) => { f.page = n; refresh(); }));
    } catch (err) {
      failure(table, err);
    }
  }
  return refresh();
}

function userForm(u, done) {
  const edit = !!u;
  return form("user-form", [
    { name: "username", label: "Username", value: u ? u.username : "", required: true },
    { name: "name", label: "Name", value: u ? u.name : "" },
    { name: "email", label: "Email", type: "email", value: u ? u.email : "" },
    { name: "is_active", label: "Active", type: "checkbox", value: u ? u.is_active : true },
  ], async (i) => {
    const body = { username: i.username.value.trim(), name: i.name.value, email: i.email.value.trim(),
      is_active: i.is_active.checked };
    const r = edit ? await api("PATCH", `core/users/${u.pk}/`, body) : await api("POST", "core/users/", body);
    done(r);
  });
}

function userDialog(u, refresh) {
  const { form: fm } = userForm(u, (r) => { d.close(); toast(`${r.username} saved`); refresh(); });
  const d = dialog(u ? `Edit ${u.username}` : "Create user", fm, [
    { label: "Cancel" }, { label: u ? "Save" : "Create", primary: true, submit: true, form: "user-form", onclick: () => {} }]);
}

async function setActive(u, active, refresh) {
  try {
    await api("PATCH", `core/users/${u.pk}/`, { is_active: active });
    toast(`${u.username} ${active ? "activated" : "deactivated"}`);
  } catch (err) {
    toast(err.message);
  }
  refresh();
}

async function deleteUser(u, after) {
  if (!(await confirmDialog("Delete user", `Delete the user “${u.username}” and every token they own?`, `Delete ${u.username}`))) return;
  try {
    await api("DELETE", `core/users/${u.pk}/`);
    toast(`${u.username} deleted`);
  } catch (err) {
    toast(err.message);
  }
  after();
}

export function usersPage(view) {
  return searchList(view, "Users", "users",
    (f) => get("core/users/", { page: f.page, page_size: 20, search: f.search, ordering: "username" }),
    (users, refresh) => h("table", { id: "users" },
      h("thead", {}, h("tr", {}, ["Username", "Name", "Email", "Status", "Last login", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, users.map((u) => h("tr", { "data-username": u.username },
        h("th", { scope: "row" }, h("a", { href: `#/users/${u.pk}` }, u.username)),
        h("td", {}, u.name), h("td", {}, u.email),
        h("td", {}, h("span", { class: u.is_active ? "badge" : "badge bad" }, u.is_active ? "active" : "inactive"),
          u.is_superuser ? h("span", { class: "badge warn" }, "superuser") : null),
        h("td", {}, time(u.last_login)),
        h("td", { class: "rowactions" },
          h("button", { type: "button", class: "secondary", onclick: () => userDialog(u, refresh) }, "Edit"),
          h("button", { type: "button", class: "secondary", onclick: () => setActive(u, !u.is_active, refresh) }, u.is_active ? "Deactivate" : "Activate"),
          h("button", { type: "button", class: "danger", onclick: () => deleteUser(u, refresh) }, "Delete")))))),
    (refresh) => h("button", { type: "button", id: "create-user", onclick: () => userDialog(null, refresh) }, "Create user"));
}

export async function userPage(view, me, pk) {
  const u = await get(`core/users/${encodeURIComponent(pk)}/`);
  const tokens = await get("core/tokens/", { user__username: u.username, page_size: 100, ordering: "identifier" });
  const reload = () => userPage(view, me, pk).catch((e) => failure(view, e));
  view.replaceChildren(
    h("div", { class: "pagehead" }, h("h1", {}, `User ${u.username}`),
      h("div", { class: "rowactions" },
        h("button", { type: "button", class: "secondary", onclick: () => userDialog(u, reload) }, "Edit"),
        h("button", { type: "button", class: "secondary", onclick: () => setActive(u, !u.is_active, reload) }, u.is_active ? "Deactivate" : "Activate"),
        h("button", { type: "button", class: "danger", onclick: () => deleteUser(u, () => { location.hash = "#/users"; }) }, "Delete"))),
    h("dl", { class: "props" },
      h("dt", {}, "Name"), h("dd", {}, u.name || "—"),
      h("dt", {}, "Email"), h("dd", {}, u.email || "—"),
      h("dt", {}, "Active"), h("dd", {}, u.is_active ? "yes" : "no"),
      h("dt", {}, "Superuser"), h("dd", {}, u.is_superuser ? "yes" : "no"),
      h("dt", {}, "Groups"), h("dd", {}, (u.groups_obj || []).map((g) => g.name).join(", ") || "—"),
      h("dt", {}, "Last login"), h("dd", {}, time(u.last_login))),
    h("h2", {}, `Tokens (${tokens.pagination.count})`),
    h("div", { class: "tablewrap" }, h("table", { id: "user-tokens" },
      h("thead", {}, h("tr", {}, ["Identifier", "Intent", "Expires", "Description"].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, tokens.results.length ? tokens.results.map((t) => h("tr", {},
        h("th", { scope: "row" }, t.identifier), h("td", {}, t.intent),
        h("td", {}, expiryBadge(t)), h("td", {}, t.description)))
        : h("tr", {}, h("td", { colspan: 4, class: "muted" }, "No tokens."))))));
}

async function userPks(text) {
  const names = text.split(/[\s,]+/).filter(Boolean);
  const pks = [];
  for (const n of names) {
    const r = await get("core/users/", { username: n });
    if (!r.results.length) throw new ApiError(400, { users: [`No user named “${n}”.`] });
    pks.push(r.results[0].pk);
  }
  return pks;
}

function groupDialog(g, refresh) {
  const { form: fm } = form("group-form", [
    { name: "name", label: "Name", value: g ? g.name : "", required: true },
    { name: "parent", label: "Parent group (name; empty: none)", value: g && g.parent_name ? g.parent_name : "" },
    { name: "is_superuser", label: "Members are superusers", type: "checkbox", value: g ? g.is_superuser : false },
    { name: "users", label: "Members (usernames, comma-separated)", type: "textarea",
      value: g && g.users_obj ? g.users_obj.map((u) => u.username).join(", ") : "" },
  ], async (i) => {
    const body = { name: i.name.value.trim(), is_superuser: i.is_superuser.checked,
      users: await userPks(i.users.value), parent: null };
    const pn = i.parent.value.trim();
    if (pn) {
      const r = await get("core/groups/", { name: pn, include_users: "false" });
      if (!r.results.length) throw new ApiError(400, { parent: [`No group named “${pn}”.`] });
      body.parent = r.results[0].pk;
    }
    const r = g ? await api("PATCH", `core/groups/${g.pk}/`, body) : await api("POST", "core/groups/", body);
    d.close();
    toast(`${r.name} saved`);
    refresh();
  });
  const d = dialog(g ? `Edit ${g.name}` : "Create group", fm, [
    { label: "Cancel" }, { label: g ? "Save" : "Create", primary: true, submit: true, form: "group-form", onclick: () => {} }]);
}

export function groupsPage(view) {
  return searchList(view, "Groups", "groups",
    (f) => get("core/groups/", { page: f.page, page_size: 20, search: f.search }),
    (groups, refresh) => h("table", { id: "groups" },
      h("thead", {}, h("tr", {}, ["Name", "Parent", "Superuser", "Members", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, groups.map((g) => h("tr", { "data-name": g.name },
        h("th", { scope: "row" }, g.name), h("td", {}, g.parent_name || "—"),
        h("td", {}, g.is_superuser ? h("span", { class: "badge warn" }, "superuser") : "no"),
        h("td", {}, (g.users_obj || []).map((u) => u.username).join(", ") || "—"),
        h("td", { class: "rowactions" },
          h("button", { type: "button", class: "secondary", onclick: () => groupDialog(g, refresh) }, "Edit"),
          h("button", { type: "button", class: "danger", onclick: async () => {
            if (!(await confirmDialog("Delete group", `Delete the group “${g.name}”? Its members stay.`, `Delete ${g.name}`))) return;
            try { await api("DELETE", `core/groups/${g.pk}/`); toast(`${g.name} deleted`); } catch (err) { toast(err.message); }
            refresh();
          } }, "Delete")))))),
    (refresh) => h("button", { type: "button", id: "create-group", onclick: () => groupDialog(null, refresh) }, "Create group"));
}
