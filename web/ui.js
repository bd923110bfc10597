// Small DOM helpers of the console: element building (text only, never HTML strings), times in
// the browser's zone with the UTC value on hover, badges, dialogs, forms whose fields show the
// API's errors beside them, a status line and a pager.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function time(iso) {
  if (!iso) return h("span", { class: "muted" }, "never");
  const d = new Date(iso);
  return h("time", { datetime: iso, title: d.toISOString().replace(".000Z", "Z") + " (UTC)" },
    d.toLocaleString());
}

const DAY = 86400000;

// "expired", "expires in 3 days", … for a token's expiry
export function expiryBadge(token) {
  if (!token.expiring || !token.expires) return h("span", { class: "badge" }, "never expires");
  const left = new Date(token.expires).getTime() - Date.now();
  if (left <= 0) return h("span", { class: "badge bad" }, "expired");
  if (left < DAY) return h("span", { class: "badge warn" }, `expires in ${Math.ceil(left / 3600000)} h`);
  const days = Math.round(left / DAY);
  if (days <= 7) return h("span", { class: "badge warn" }, `expires in ${days} day${days === 1 ? "" : "s"}`);
  return h("span", { class: "badge" }, `expires in ${days} days`);
}

export function toast(msg) {
  const t = document.getElementById("toast");
  t.textContent = msg;
  t.classList.add("shown");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => t.classList.remove("shown"), 4000);
}

// A modal dialog: title, body nodes, buttons [{label, primary, onclick}]; returns {dialog, close}.
export function dialog(title, body, buttons) {
  const id = "dlg-" + Math.random().toString(36).slice(2);
  const d = h("dialog", { "aria-labelledby": id }, h("h2", { id }, title), body,
    h("div", { class: "actions" }, buttons.map((b) => h("button", {
      type: b.submit ? "submit" : "button", class: b.primary ? "" : "secondary",
      form: b.form, onclick: b.onclick ? (e) => b.onclick(e, close) : () => close(),
    }, b.label))));
  function close() {
    d.close();
    d.remove();
  }
  d.addEventListener("cancel", (e) => { e.preventDefault(); close(); });
  document.body.append(d);
  d.showModal();
  return { dialog: d, close };
}

export function confirmDialog(title, text, label) {
  return new Promise((resolve) => {
    dialog(title, h("p", {}, text), [
      { label: "Cancel", onclick: (e, close) => { close(); resolve(false); } },
      { label, primary: true, onclick: (e, close) => { close(); resolve(true); } },
    ]);
  });
}

// The key shown once, with a copy button.
export function showKey(title, keyText, note) {
  const out = h("output", { class: "key", id: "new-key" }, keyText);
  const copy = h("button", { type: "button", class: "secondary", onclick: async () => {
    try {
      await navigator.clipboard.writeText(keyText);
      toast("Key copied");
    } catch {
      const r = document.createRange();
      r.selectNodeContents(out);
      getSelection().removeAllRanges();
      getSelection().addRange(r);
      toast("Select and copy the key");
    }
  } }, "Copy");
  dialog(title, h("div", {}, h("p", {}, note), h("div", { class: "keyrow" }, out, copy)),
    [{ label: "Done", primary: true }]);
}

// A form of fields [{name, label, type, value, options, help, required}]; errors(err) puts an
// ApiError's field messages beside their fields (the rest at the top).
export function form(id, fields, onsubmit) {
  const top = h("p", { class: "error", role: "alert", id: id + "-error" });
  const f = h("form", { id, novalidate: true }, top);
  const inputs = {};
  for (const fd of fields) {
    const iid = `${id}-${fd.name}`;
    const err = h("p", { class: "error", id: iid + "-error" });
    let input;
    if (fd.type === "select") {
      input = h("select", { id: iid, name: fd.name },
        fd.options.map(([v, l]) => h("option", { value: v, selected: v === fd.value }, l)));
    } else if (fd.type === "checkbox") {
      input = h("input", { id: iid, name: fd.name, type: "checkbox", checked: !!fd.value });
    } else if (fd.type === "textarea") {
      input = h("textarea", { id: iid, name: fd.name, rows: 3 });
      input.value = fd.value ?? "";
    } else {
      input = h("input", { id: iid, name: fd.name, type: fd.type || "text", required: fd.required,
        autocomplete: "off", spellcheck: "false" });
      input.value = fd.value ?? "";
    }
    input.setAttribute("aria-describedby", `${iid}-error${fd.help ? " " + iid + "-help" : ""}`);
    inputs[fd.name] = input;
    const label = h("label", { for: iid }, fd.label);
    f.append(h("div", { class: fd.type === "checkbox" ? "field check" : "field" },
      fd.type === "checkbox" ? [input, label] : [label, input],
      fd.help ? h("p", { class: "help", id: iid + "-help" }, fd.help) : null, err));
  }
  f.addEventListener("submit", async (e) => {
    e.preventDefault();
    for (const p of f.querySelectorAll("p.error")) p.textContent = "";
    for (const i of Object.values(inputs)) i.removeAttribute("aria-invalid");
    f.classList.add("busy");
    try {
      await onsubmit(inputs);
    } catch (err) {
      showErrors(err);
    } finally {
      f.classList.remove("busy");
    }
  });
  function showErrors(err) {
    let placed = false;
    for (const [name, input] of Object.entries(inputs)) {
      const m = err.field ? err.field(name) : "";
      if (m) {
        document.getElementById(`${id}-${name}-error`).textContent = m;
        input.setAttribute("aria-invalid", "true");
        if (!placed) input.focus();
        placed = true;
      }
    }
    const rest = err.body && typeof err.body === "object"
      ? Object.keys(err.body).filter((k) => !(k in inputs)) : [];
    if (!placed || rest.length) {
      top.textContent = rest.length && err.body
        ? rest.map((k) => (k === "detail" || k === "non_field_errors" ? "" : k + ": ") +
            [].concat(err.body[k]).join(" ")).join(" ")
        : err.message;
    }
  }
  return { form: f, inputs, showErrors };
}

export function pager(pagination, go) {
  const p = pagination;
  return h("nav", { class: "pager", "aria-label": "Pages" },
    h("button", { type: "button", class: "secondary", disabled: !p.previous,
      onclick: () => go(p.previous) }, "Previous"),
    h("span", {}, p.count === 0 ? "nothing"
      : `${p.start_index}–${p.end_index} of ${p.count} · page ${p.current} of ${p.total_pages}`),
    h("button", { type: "button", class: "secondary", disabled: !p.next,
      onclick: () => go(p.next) }, "Next"));
}

export function loading(el) {
  el.replaceChildren(h("p", { class: "loading", role: "status" }, "Loading…"));
}

export function failure(el, err) {
  el.replaceChildren(h("p", { class: "error", role: "alert" }, err.message));
}
