// The tokens page: the server's pages of core/tokens/ (search, intent, owner, expiring) or of
// tokend/tokens/ (never used, expiring within N days, last use and use count ordering), each row
// completed from the other API; create (the key shown once), view key, rotate with grace, edit,
// revoke, bulk revoke.
import { api, get, ApiError } from "./api.js";
import { h, time, expiryBadge, dialog, confirmDialog, showKey, form, pager, loading, failure, toast }
  from "./ui.js";

const INTENTS = [["", "any intent"], ["api", "api"], ["app_password", "app_password"],
  ["recovery", "recovery"], ["verification", "verification"]];
const PAGE = 20;
const enc = encodeURIComponent;

function listParams(f) {
  const tokend = f.never_used || f.within || ["last_used", "use_count"].includes(f.sort.replace("-", ""));
  const p = { page: f.page, page_size: PAGE, ordering: f.sort, intent: f.intent,
    user__username: f.owner };
  if (tokend) {
    if (f.never_used) p.never_used = "true";
    if (f.within) p.expiring_within = `days=${f.within}`;
  } else {
    p.search = f.search;
    if (f.expiring) p.expiring = f.expiring;
  }
  return { tokend, p };
}

async function loadPage(f) {
  const { tokend, p } = listParams(f);
  const list = await get(tokend ? "tokend/tokens/" : "core/tokens/", p);
  const other = await Promise.all(list.results.map((t) =>
    get((tokend ? "core/tokens/" : "tokend/tokens/") + enc(t.identifier) + "/").catch(() => null)));
  const rows = list.results.map((t, i) => tokend ? { core: other[i], ext: t } : { core: t, ext: other[i] })
    .filter((r) => r.core);
  return { pagination: list.pagination, rows, tokend };
}

export async function tokensPage(view, me) {
  const f = { page: 1, search: "", intent: "", owner: "", expiring: "", never_used: false,
    within: "", sort: "identifier" };
  const su = me.is_superuser;
  const table = h("div", { class: "tablewrap" });
  const status = h("p", { class: "muted", role: "status" });
  const search = h("input", { id: "tok-search", type: "search", placeholder: "words in identifier, description, owner…" });
  const intent = h("select", { id: "tok-intent" }, INTENTS.map(([v, l]) => h("option", { value: v }, l)));
  const owner = h("input", { id: "tok-owner", type: "text", placeholder: "username" });
  const expiring = h("select", { id: "tok-expiring" },
    [["", "any"], ["true", "expiring"], ["false", "not expiring"]].map(([v, l]) => h("option", { value: v }, l)));
  const never = h("input", { id: "tok-never", type: "checkbox" });
  const within = h("input", { id: "tok-within", type: "number", min: "1", max: "3650", inputmode: "numeric" });
  const bulk = h("button", { type: "button", class: "danger", disabled: true, id: "bulk-revoke" }, "Revoke selected");
  const selected = new Set();

  const filters = h("form", { class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); apply(); } },
    h("div", { class: "field" }, h("label", { for: "tok-search" }, "Search"), search),
    h("div", { class: "field" }, h("label", { for: "tok-intent" }, "Intent"), intent),
    su ? h("div", { class: "field" }, h("label", { for: "tok-owner" }, "Owner"), owner) : null,
    h("div", { class: "field" }, h("label", { for: "tok-expiring" }, "Expiry"), expiring),
    h("div", { class: "field" }, h("label", { for: "tok-within" }, "Expiring within (days)"), within),
    h("div", { class: "field check" }, never, h("label", { for: "tok-never" }, "Never used")),
    h("button", { type: "submit" }, "Apply"));

  function apply() {
    Object.assign(f, { page: 1, search: search.value.trim(), intent: intent.value,
      owner: su ? owner.value.trim() : "", expiring: expiring.value, never_used: never.checked,
      within: within.value.trim() });
    refresh();
  }

  const header = h("div", { class: "pagehead" }, h("h1", {}, su ? "Tokens" : "Your tokens"),
    h("button", { type: "button", id: "create-token", onclick: () => createDialog(me, refresh) }, "Create token"));
  view.replaceChildren(header, filters, h("div", { class: "bulkbar" }, bulk, status), table);

  bulk.addEventListener("click", async () => {
    const ids = [...selected];
    if (!ids.length) return;
    if (!(await confirmDialog("Revoke tokens", `Revoke (delete) ${ids.length} token${ids.length > 1 ? "s" : ""}: ${ids.join(", ")}? Their keys stop working at once.`, "Revoke"))) return;
    const res = await Promise.allSettled(ids.map((id) => api("DELETE", `core/tokens/${enc(id)}/`)));
    const failed = res.filter((r) => r.status === "rejected").length;
    toast(failed ? `${ids.length - failed} revoked, ${failed} failed` : `${ids.length} revoked`);
    refresh();
  });

  function sortHeader(label, field) {
    const cur = f.sort.replace("-", "") === field;
    const desc = f.sort.startsWith("-");
    return h("th", { scope: "col", "aria-sort": cur ? (desc ? "descending" : "ascending") : "none" },
      h("button", { type: "button", class: "sort", onclick: () => {
        f.sort = cur && !desc ? "-" + field : field;
        f.page = 1;
        refresh();
      } }, label, cur ? (desc ? " ↓" : " ↑") : ""));
  }

  async function refresh() {
    selected.clear();
    bulk.disabled = true;
    loading(table);
    let data;
    try {
      data = await loadPage(f);
    } catch (err) {
      if (err instanceof ApiError && err.status === 403 && /invalid|expired/i.test(err.message)) throw err;
      return failure(table, err);
    }
    status.textContent = data.tokend && f.search ? "Search does not combine with “never used” or “expiring within”: it was left out." : "";
    const rows = data.rows.map(({ core, ext }) => {
      const box = h("input", { type: "checkbox", "aria-label": `Select ${core.identifier}`, onchange: (e) => {
        if (e.target.checked) selected.add(core.identifier); else selected.delete(core.identifier);
        bulk.disabled = selected.size === 0;
      } });
      return h("tr", { "data-identifier": core.identifier },
        h("td", {}, box),
        h("th", { scope: "row" }, h("span", { class: "ident" }, core.identifier),
          core.description ? h("div", { class: "muted small" }, core.description) : null),
        h("td", {}, core.user_obj ? h("a", { href: su ? `#/users/${core.user_obj.pk}` : "#/account" }, core.user_obj.username) : String(core.user)),
        h("td", {}, core.intent),
        h("td", {}, expiryBadge(core), core.expiring && core.expires ? h("div", { class: "small" }, time(core.expires)) : null),
        h("td", {}, ext ? time(ext.last_used) : "—"),
        h("td", { class: "num" }, ext ? String(ext.use_count) : "—"),
        h("td", { class: "rowactions" },
          h("button", { type: "button", class: "secondary", onclick: () => viewKey(core) }, "View key"),
          h("button", { type: "button", class: "secondary", onclick: () => rotateDialog(core, refresh) }, "Rotate"),
          h("button", { type: "button", class: "secondary", onclick: () => editDialog(core, ext, refresh) }, "Edit"),
          h("button", { type: "button", class: "danger", onclick: () => revoke(core, refresh) }, "Revoke")));
    });
    table.replaceChildren(
      h("table", { id: "tokens" },
        h("caption", { class: "sr" }, "Tokens"),
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, h("span", { class: "sr" }, "Select")),
          sortHeader("Identifier", "identifier"),
          h("th", { scope: "col" }, "Owner"),
          h("th", { scope: "col" }, "Intent"),
          sortHeader("Expires", "expires"),
          sortHeader("Last used", "last_used"),
          sortHeader("Uses", "use_count"),
          h("th", { scope: "col" }, h("span", { class: "sr" }, "Actions")))),
        h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No tokens.")))),
      pager(data.pagination, (n) => { f.page = n; refresh(); }));
  }
  await refresh();
}

async function viewKey(t) {
  try {
    const r = await get(`core/tokens/${enc(t.identifier)}/view_key/`);
    showKey(`Key of ${t.identifier}`, r.key, "Anyone with this key acts as the token's owner.");
  } catch (err) {
    toast(err.message);
    dialog("Key not shown", h("p", { class: "error" }, err.message), [{ label: "Close", primary: true }]);
  }
}

async function revoke(t, refresh) {
  if (!(await confirmDialog("Revoke token", `Revoke (delete) the token “${t.identifier}”? Its key stops working at once.`, `Revoke ${t.identifier}`))) return;
  try {
    await api("DELETE", `core/tokens/${enc(t.identifier)}/`);
    toast(`${t.identifier} revoked`);
  } catch (err) {
    toast(err.message);
  }
  refresh();
}

function rotateDialog(t, refresh) {
  const { form: fm } = form("rotate-form", [
    { name: "grace", label: "Grace window for the old key", value: "",
      help: "Empty: the old key stops at once. Else e.g. hours=1 or days=2." },
  ], async (inputs) => {
    const body = inputs.grace.value.trim() ? { grace: inputs.grace.value.trim() } : {};
    const r = await api("POST", `tokend/tokens/${enc(t.identifier)}/rotate/`, body);
    d.close();
    showKey(`New key of ${t.identifier}`, r.key, "Shown once. Copy it now.");
    refresh();
  });
  const d = dialog(`Rotate ${t.identifier}`, fm, [
    { label: "Cancel" }, { label: "Rotate", primary: true, submit: true, form: "rotate-form", onclick: () => {} }]);
}

function listOrNull(text) {
  const v = text.trim();
  if (v === "") return null;
  if (v === "[]") return [];
  return v.split(/[\s,]+/).filter(Boolean);
}

function settingFields(ext) {
  return [
    { name: "scopes", label: "Scopes", value: ext && ext.scopes ? ext.scopes.join(" ") : "",
      help: "Space-separated; empty: the owner's rights; [] for none." },
    { name: "allowed_networks", label: "Allowed networks", value: ext && ext.allowed_networks ? ext.allowed_networks.join(" ") : "",
      help: "Addresses or networks (10.0.0.0/8); empty: any." },
    { name: "rate_limit", label: "Rate limit", value: ext && ext.rate_limit ? ext.rate_limit : "", help: "e.g. 100/minute; empty: none." },
    { name: "uses_remaining", label: "Uses remaining", type: "number", value: ext && ext.uses_remaining !== null && ext.uses_remaining !== undefined ? ext.uses_remaining : "", help: "Empty: unlimited." },
    { name: "view_key", label: "Viewing the key", type: "select", value: ext ? ext.view_key : "always",
      options: [["always", "always"], ["once", "once"], ["never", "never"]] },
  ];
}

function settingsBody(inputs) {
  const uses = inputs.uses_remaining.value.trim();
  return {
    scopes: listOrNull(inputs.scopes.value),
    allowed_networks: listOrNull(inputs.allowed_networks.value),
    rate_limit: inputs.rate_limit.value.trim() || null,
    uses_remaining: uses === "" ? null : Number(uses),
    view_key: inputs.view_key.value,
  };
}

function localInput(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function editDialog(t, ext, refresh) {
  const { form: fm, showErrors } = form("edit-form", [
    { name: "description", label: "Description", value: t.description },
    { name: "expiring", label: "Expires", type: "checkbox", value: t.expiring },
    { name: "expires", label: "Expiry (your time zone)", type: "datetime-local", value: localInput(t.expires) },
    ...settingFields(ext),
  ], async (inputs) => {
    const core = { description: inputs.description.value, expiring: inputs.expiring.checked };
    if (inputs.expires.value) core.expires = new Date(inputs.expires.value).toISOString();
    await api("PATCH", `core/tokens/${enc(t.identifier)}/`, core);
    try {
      await api("PATCH", `tokend/tokens/${enc(t.identifier)}/`, settingsBody(inputs));
    } catch (err) {
      showErrors(err);
      return;
    }
    d.close();
    toast(`${t.identifier} saved`);
    refresh();
  });
  const d = dialog(`Edit ${t.identifier}`, fm, [
    { label: "Cancel" }, { label: "Save", primary: true, submit: true, form: "edit-form", onclick: () => {} }]);
}

function createDialog(me, refresh) {
  const su = me.is_superuser;
  const { form: fm, showErrors } = form("create-form", [
    { name: "identifier", label: "Identifier", required: true },
    { name: "intent", label: "Intent", type: "select", value: "api", options: INTENTS.slice(1) },
    ...(su ? [{ name: "owner", label: "Owner (username)", value: me.username }] : []),
    { name: "description", label: "Description" },
    { name: "expiring", label: "Expires", type: "checkbox", value: true },
    { name: "expires", label: "Expiry (your time zone; empty: the server's default)", type: "datetime-local" },
    ...settingFields(null),
  ], async (inputs) => {
    const body = { identifier: inputs.identifier.value.trim(), intent: inputs.intent.value,
      description: inputs.description.value, expiring: inputs.expiring.checked };
    if (inputs.expires.value) body.expires = new Date(inputs.expires.value).toISOString();
    if (su && inputs.owner.value.trim() && inputs.owner.value.trim() !== me.username) {
      const found = await get("core/users/", { username: inputs.owner.value.trim() });
      if (!found.results.length) throw new ApiError(400, { owner: ["No user with this username."] });
      body.user = found.results[0].pk;
    }
    const t = await api("POST", "core/tokens/", body);
    const settings = settingsBody(inputs);
    const mode = settings.view_key;
    delete settings.view_key;
    let keyText = null, keyError = null;
    try {
      keyText = (await get(`core/tokens/${enc(t.identifier)}/view_key/`)).key;
    } catch (err) {
      keyError = err.message;
    }
    try {
      await api("PATCH", `tokend/tokens/${enc(t.identifier)}/`, { ...settings, view_key: mode });
    } catch (err) {
      d.close();
      refresh();
      toast(`${t.identifier} created, but its settings were refused: ${err.message}`);
      editDialog(t, null, refresh);
      return;
    }
    d.close();
    refresh();
    if (keyText) showKey(`Token ${t.identifier} created`, keyText, "This is the only time the console shows the key unless viewing is allowed. Copy it now.");
    else dialog(`Token ${t.identifier} created`, h("p", {}, `Its key cannot be shown: ${keyError}`), [{ label: "Done", primary: true }]);
  });
  void showErrors;
  const d = dialog("Create token", fm, [
    { label: "Cancel" }, { label: "Create", primary: true, submit: true, form: "create-form", onclick: () => {} }]);
}

export { loadPage };
void loading;
