// Tocsin console. Plain JavaScript, no dependencies. Every value from the
// server goes into the page as text (never as HTML).
"use strict";

const api = "api/";
const main = document.getElementById("main");
const state = { me: null, source: null, route: "", messages: new Map() };

// h builds an element: h("a", {href: "#"}, "text", child...).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function call(path, opts = {}) {
  const init = { credentials: "same-origin", headers: { "Accept": "application/json" } };
  if (opts.body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.headers["X-Tocsin-Console"] = "1";
    init.body = JSON.stringify(opts.body);
  }
  const resp = await fetch(api + path, init);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (resp.status === 401 && path !== "login") { loggedOut(); throw new Error("please log in"); }
  if (!resp.ok) throw new Error((data && data.error) || resp.statusText);
  return data;
}

function announce(text) {
  const el = document.getElementById("announce");
  el.textContent = "";
  setTimeout(() => { el.textContent = text; }, 50);
}

function when(t) {
  if (!t) return "";
  const d = new Date(t);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

function ago(t) {
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

function tlpBadge(tlp) {
  return h("span", { class: "badge tlp tlp-" + tlp, title: "Traffic Light Protocol" }, "TLP:" + String(tlp).toUpperCase());
}

function badges(m) {
  return [
    h("span", { class: "badge lane-badge-" + m.lane }, m.lane),
    tlpBadge(m.tlp),
    m.kind === "advisory" ? h("span", { class: "badge" }, "advisory") : null,
    m.exercise ? h("span", { class: "badge exercise" }, "exercise") : null,
    m.revoked ? h("span", { class: "badge revoked" }, "revoked") : null,
  ];
}

// nodes flattens children and drops the absent ones.
function nodes(children) {
  return children.flat(3).filter((c) => c !== null && c !== undefined && c !== false);
}

// add appends to the page.
function add(...children) { main.append(...nodes(children)); }

// page replaces the view and returns its token: an async view checks it
// after each await, so that a slow answer never lands on a newer view.
function page(title, ...children) {
  main.replaceChildren(h("h1", { tabindex: "-1" }, title), ...nodes(children));
  main.querySelector("h1").focus();
  document.title = title + " · Tocsin";
  state.view = {};
  return state.view;
}

function stale(view) { return view !== state.view; }

function failure(err) {
  return h("p", { class: "error", role: "alert" }, String(err.message || err));
}

// ---------------------------------------------------------------- login

function loggedOut() {
  state.me = null;
  if (state.source) { state.source.close(); state.source = null; }
  document.getElementById("top").hidden = true;
  showLogin();
}

function showLogin(message) {
  const member = h("input", { id: "login-member", name: "member", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const token = h("input", { id: "login-token", name: "token", type: "password", autocomplete: "current-password", required: true });
  const out = h("p", { role: "alert", class: "error" }, message || "");
  const form = h("form", { class: "login", onsubmit: async (ev) => {
    ev.preventDefault();
    out.textContent = "";
    try {
      state.me = await call("login", { body: { member: member.value.trim(), token: token.value.trim() } });
      token.value = "";
      start();
    } catch (e) { out.textContent = e.message; }
  } },
    h("h1", { tabindex: "-1" }, "Tocsin console"),
    h("p", { class: "muted" }, "Log in with your member id and the access token your administrator issued."),
    h("label", { for: "login-member" }, "Member id"), member,
    h("label", { for: "login-token" }, "Access token"), token,
    h("button", { type: "submit", id: "login-submit" }, "Log in"), out);
  main.replaceChildren(form);
  document.title = "Log in · Tocsin";
  member.focus();
}

// ---------------------------------------------------------------- events

function connect() {
  if (state.source) state.source.close();
  const conn = document.getElementById("conn");
  const src = new EventSource(api + "events");
  state.source = src;
  src.onopen = () => { conn.textContent = "live"; conn.classList.remove("down"); };
  src.onerror = () => { conn.textContent = "reconnecting…"; conn.classList.add("down"); };
  src.addEventListener("message", (ev) => {
    const m = JSON.parse(ev.data);
    const isNew = !state.messages.has(m.id);
    state.messages.set(m.id, m);
    if (isNew) {
      announce("New " + m.lane + " " + m.kind + ": " + m.title + ", from " + (m.sender_name || m.sender));
      const list = document.getElementById("board-list");
      if (list && (state.route === "board" || (state.route === "advisories" && m.kind === "advisory"))) {
        const empty = document.getElementById("board-empty");
        if (empty) empty.remove();
        list.prepend(card(m, true));
      }
    }
  });
  src.addEventListener("reach", (ev) => {
    const r = JSON.parse(ev.data);
    const box = document.getElementById("reach");
    if (box && box.dataset.id === r.id) loadReach(r.id, box);
  });
  src.addEventListener("logout", () => loggedOut());
}

// ---------------------------------------------------------------- board

function card(m, fresh) {
  return h("li", { class: "card lane-" + m.lane + (fresh ? " fresh" : ""), "data-id": m.id },
    h("a", { class: "body", href: "#/message/" + encodeURIComponent(m.id) },
      h("span", {}, badges(m)),
      h("span", { class: "title" }, m.title || "(untitled)"),
      h("span", { class: "meta" },
        h("span", { class: "verified", title: "signature verified against the member registry" }, "✓ " + (m.sender_name || m.sender)),
        m.via ? h("span", {}, "via " + m.via) : null,
        h("time", { datetime: m.signed, title: when(m.signed) }, ago(m.signed)))));
}

async function showBoard(kind) {
  const title = kind === "advisory" ? "Advisories" : "Alert board";
  const list = h("ul", { class: "cards", id: "board-list", "aria-label": title });
  const view = page(title, h("p", { class: "muted" }, kind === "advisory"
    ? "Advisories from the liaison to your sectors." + (state.me.liaison ? " Open one to see its reach." : "")
    : "Alerts and advisories you may see, newest first. New ones appear here as they are routed."), list);
  try {
    const res = await call("messages" + (kind ? "?kind=" + kind : ""));
    if (stale(view)) return;
    for (const m of res.messages) state.messages.set(m.id, m);
    if (res.messages.length === 0) list.before(h("p", { id: "board-empty", class: "muted" }, "Nothing yet."));
    list.replaceChildren(...res.messages.map((m) => card(m, false)));
  } catch (e) { if (!stale(view)) add(failure(e)); }
}

// ---------------------------------------------------------------- message

async function showMessage(id) {
  const view = page("Loading…");
  let m;
  try { m = await call("messages/" + encodeURIComponent(id)); } catch (e) { if (!stale(view)) page("Not found", failure(e)); return; }
  if (stale(view)) return;
  const facts = h("dl", { class: "facts" },
    h("dt", {}, "Sender"), h("dd", {}, h("span", { class: "verified", id: "verified" }, "✓ Verified"), " ", m.sender_name, " (", h("code", {}, m.sender), ")"),
    h("dt", {}, "Signing key"), h("dd", {}, h("code", {}, m.key_id), m.via ? " — relayed by a Tocsin node, via " + m.via : ""),
    h("dt", {}, "Signed"), h("dd", {}, h("time", { datetime: m.signed }, when(m.signed))),
    h("dt", {}, "Routed"), h("dd", {}, h("time", { datetime: m.added }, when(m.added))),
    h("dt", {}, "Sectors"), h("dd", {}, (m.sectors || []).join(", ") || "none (direct delivery)"),
    m.inboxes && m.inboxes.length ? [h("dt", {}, "Delivered directly to"), h("dd", {}, m.inboxes.join(", "))] : null,
    h("dt", {}, "Message id"), h("dd", {}, h("code", {}, m.id)),
    m.amends ? [h("dt", {}, m.revoked ? "Revokes" : "Amends"), h("dd", {}, h("a", { href: "#/message/" + m.amends }, m.amends))] : null);
  const text = [];
  if (m.body) text.push(h("h2", {}, "Advisory"), h("p", { class: "prose" }, m.body));
  if (m.recommended_action) text.push(h("h2", {}, "Recommended action"), h("p", {}, m.recommended_action));
  if (m.patient_safety_impact) text.push(h("h2", {}, "Patient safety"), h("p", {}, m.patient_safety_impact));
  if (m.contact) text.push(h("h2", {}, "Contact"), h("p", {}, m.contact));
  if (m.reason) text.push(h("h2", {}, "Reason"), h("p", {}, m.reason));
  const done = h("p", { role: "status", id: "receipt-status" });
  const receipt = (s, label) => h("button", { type: "button", "data-receipt": s, onclick: async (ev) => {
    ev.target.disabled = true;
    try { await call("messages/" + encodeURIComponent(m.id) + "/receipt", { body: { state: s } }); done.className = "ok"; done.textContent = "Sent: " + s + "."; }
    catch (e) { done.className = "error"; done.textContent = e.message; ev.target.disabled = false; }
  } }, label);
  const actions = m.sender === state.me.id ? null : h("div", { class: "actions" }, receipt("acknowledged", "Acknowledge"), receipt("actioned", "Mark actioned"), done);
  const objects = h("div", { class: "scroll" }, h("table", {},
    h("caption", { class: "visually-hidden" }, "STIX objects"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Type"), h("th", { scope: "col" }, "Name / pattern"), h("th", { scope: "col" }, "TLP"), h("th", { scope: "col" }, "Id"))),
    h("tbody", { id: "objects" }, m.objects.map((o) => h("tr", {},
      h("td", {}, o.type),
      h("td", {}, o.name || "", o.pattern ? h("div", {}, h("code", {}, o.pattern)) : null,
        h("details", {}, h("summary", {}, "JSON"), h("pre", {}, JSON.stringify(o.raw, null, 2)))),
      h("td", {}, tlpBadge(o.tlp)),
      h("td", {}, h("code", {}, o.id)))))));
  const hidden = m.object_count > m.objects.length
    ? h("p", { class: "muted" }, (m.object_count - m.objects.length) + " object(s) of this message are above your TLP and not shown.") : null;
  page(m.title || "(untitled)", h("p", {}, badges(m)), h("div", { class: "panel" }, facts), actions,
    state.me.liaison ? [h("h2", {}, "Reach"), reachBox(m.id)] : null, ...text,
    m.objects.length ? [h("h2", {}, "STIX objects (" + m.objects.length + ")"), objects] : null, hidden);
}

// ---------------------------------------------------------------- reach

function reachBox(id) {
  const box = h("div", { id: "reach", "data-id": id }, h("p", { class: "muted" }, "Loading reach…"));
  loadReach(id, box);
  return box;
}

async function loadReach(id, box) {
  try {
    const r = await call("reach/" + encodeURIComponent(id));
    box.replaceChildren(...r.groups.map((g) => {
      const fill = h("span");
      fill.style.width = (g.members ? Math.round(100 * g.acknowledged / g.members) : 0) + "%";
      return h("section", { class: "panel", "data-sector": g.sector },
        h("h3", {}, g.sector === "direct" ? "Direct recipients" : g.sector),
        h("p", {}, h("span", { class: "reach-counts" }, g.delivered + " delivered · " + g.acknowledged + " acknowledged · " + g.actioned + " actioned"),
          " of " + g.members + " organisations"),
        h("div", { class: "bar", role: "img", "aria-label": g.acknowledged + " of " + g.members + " acknowledged" }, fill),
        g.members === 0 ? h("p", { class: "muted" }, "No organisation in this sector.")
          : g.not_acknowledged.length ? h("p", {}, "Not yet acknowledged: ", h("span", { class: "waiting" }, g.not_acknowledged.join(", ")))
          : h("p", { class: "ok" }, "Everyone has acknowledged."),
        h("details", {}, h("summary", {}, "Every organisation"), h("div", { class: "scroll" }, h("table", {},
          h("thead", {}, h("tr", {}, ["Organisation", "Delivered", "Acknowledged", "Actioned"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, g.rows.map((row) => h("tr", { "data-member": row.member }, h("td", {}, row.name, " (", row.member, ")"),
            h("td", {}, when(row.delivered)), h("td", {}, when(row.acknowledged)), h("td", {}, when(row.actioned)))))))));
    }));
  } catch (e) { box.replaceChildren(failure(e)); }
}

// ---------------------------------------------------------------- aid

async function showAid() {
  const view = page("Mutual aid");
  try {
    const res = await call("aid");
    if (stale(view)) return;
    const rows = res.requests.map((r) => h("tr", { "data-request": r.id },
      h("td", {}, h("a", { href: "#/aid/" + encodeURIComponent(r.id) }, r.requester)),
      h("td", {}, h("span", { class: "badge lane-badge-" + r.urgency }, r.urgency), tlpBadge(r.tlp), r.exercise ? h("span", { class: "badge exercise" }, "exercise") : null),
      h("td", {}, r.needs.map((n) => h("div", {}, n.capability + ": " + n.accepted + "/" + n.quantity))),
      h("td", {}, r.state), h("td", {}, r.region), h("td", {}, String((r.offers || []).length))));
    add(res.requests.length === 0 ? h("p", { class: "muted" }, "No aid requests that you may see.")
      : h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Requester", "Urgency", "Needs (accepted/asked)", "State", "Region", "Offers"].map((c) => h("th", { scope: "col" }, c)))),
        h("tbody", {}, rows))));
  } catch (e) { if (!stale(view)) add(failure(e)); }
}

async function showAidRequest(id) {
  const view = page("Aid request");
  let res;
  try { res = await call("aid/" + encodeURIComponent(id)); } catch (e) { if (!stale(view)) add(failure(e)); return; }
  if (stale(view)) return;
  const r = res.request;
  const mine = r.requester === state.me.id;
  const out = h("p", { role: "status", id: "aid-status" });
  const decide = (action, offer, quantity) => async (ev) => {
    ev.target.disabled = true;
    try {
      const d = await call("aid/" + encodeURIComponent(r.id) + "/decision", { body: { action, offer, quantity } });
      out.className = d.state === "rejected" ? "error" : "ok";
      out.textContent = action + ": " + d.state + (d.reason ? " — " + d.reason : "");
      if (d.state !== "rejected") setTimeout(() => showAidRequest(id), 300);
    } catch (e) { out.className = "error"; out.textContent = e.message; ev.target.disabled = false; }
  };
  const remaining = (cap) => { const n = r.needs.find((x) => x.capability === cap); return n ? n.quantity - n.accepted : 0; };
  const offers = (r.offers || []).map((o) => h("tr", { "data-offer": o.id },
    h("td", {}, o.responder), h("td", {}, o.capability), h("td", {}, String(o.quantity)), h("td", {}, o.eta),
    h("td", { class: "offer-state" }, o.state), h("td", {}, o.note || ""),
    h("td", {}, mine && o.state === "offered" && remaining(o.capability) > 0 ? [
      h("button", { type: "button", "data-accept": o.id, onclick: decide("accept", o.id, Math.min(o.quantity, remaining(o.capability))) },
        "Accept " + Math.min(o.quantity, remaining(o.capability))),
      " ", h("button", { type: "button", class: "quiet", "data-decline": o.id, onclick: decide("decline", o.id, 0) }, "Decline")] : null)));
  add(h("p", {}, h("span", { class: "badge lane-badge-" + r.urgency }, r.urgency), tlpBadge(r.tlp), r.exercise ? h("span", { class: "badge exercise" }, "exercise") : null),
    h("div", { class: "panel" }, h("dl", { class: "facts" },
      h("dt", {}, "Requester"), h("dd", {}, r.requester),
      h("dt", {}, "State"), h("dd", { id: "request-state" }, r.state),
      h("dt", {}, "Region"), h("dd", {}, r.region),
      h("dt", {}, "Needs"), h("dd", {}, r.needs.map((n) => h("div", {}, n.capability + ": " + n.accepted + " of " + n.quantity + " accepted"))),
      h("dt", {}, "Expires"), h("dd", {}, when(r.expires_at)),
      r.note ? [h("dt", {}, "Note"), h("dd", {}, r.note)] : null)),
    h("h2", {}, "Offers"), out,
    offers.length === 0 ? h("p", { class: "muted" }, "No offers yet.") : h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Responder", "Capability", "Units", "ETA", "State", "Note", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, offers))),
    r.timeline && r.timeline.length ? [h("h2", {}, "Timeline"), h("ol", {}, r.timeline.map((ev) =>
      h("li", {}, when(ev.at), " — ", ev.action, " by ", ev.by, ev.quantity ? " (" + ev.quantity + ")" : "", ev.note ? ": " + ev.note : "")))] : null);
}

// ---------------------------------------------------------------- situation

async function showSituation(region) {
  region = region || state.me.region || "";
  const input = h("input", { id: "region", value: region, autocapitalize: "none", spellcheck: "false" });
  const view = page("Regional situation", h("form", { class: "actions", onsubmit: (ev) => { ev.preventDefault(); location.hash = "#/situation/" + encodeURIComponent(input.value.trim()); } },
    h("label", { for: "region", class: "visually-hidden" }, "Region"), input, h("button", { type: "submit" }, "Show")));
  try {
    const b = await call("situation?region=" + encodeURIComponent(region));
    if (stale(view)) return;
    add(h("h2", {}, b.region),
      b.facilities.length === 0 ? h("p", { class: "muted" }, "No facility of this region has reported.") :
        h("div", { class: "scroll" }, h("table", {},
          h("thead", {}, h("tr", {}, ["Facility", "State", "Systems", "Note", "Reported"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, b.facilities.map((f) => h("tr", {},
            h("td", {}, f.name || f.member), h("td", { class: "state-" + f.state }, f.state, f.exercise ? " (exercise)" : ""),
            h("td", {}, (f.systems || []).join(", ")), h("td", {}, f.note || ""), h("td", {}, when(f.at))))))));
  } catch (e) { if (!stale(view)) add(failure(e)); }
}

// ---------------------------------------------------------------- health

async function showHealth() {
  const view = page("Cluster health");
  try {
    const res = await call("health");
    if (stale(view)) return;
    const c = res.cluster || {};
    add(
      h("div", { class: "panel" }, h("dl", { class: "facts" },
        h("dt", {}, "Answered by"), h("dd", {}, c.node || ""),
        h("dt", {}, "Meta leader"), h("dd", {}, c.meta_leader || h("span", { class: "error" }, "none")),
        h("dt", {}, "Web index"), h("dd", {}, (res.index.ready ? "caught up" : "catching up") + ": " + res.index.messages + " messages, " + res.index.objects + " objects"))),
      (c.problems || []).length ? [h("h2", {}, "Problems"), h("ul", {}, c.problems.map((p) => h("li", { class: "error" }, p)))] : h("p", { class: "ok" }, "No problems."),
      h("h2", {}, "Nodes"), h("ul", {}, (c.nodes || []).map((n) => h("li", {}, n.name, ": ", n.up ? h("span", { class: "ok" }, "up") : h("span", { class: "error" }, "down")))),
      (c.streams || []).length ? [h("h2", {}, "Streams"), h("div", { class: "scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, ["Stream", "Leader", "Replicas", "Messages", "Lag"].map((x) => h("th", { scope: "col" }, x)))),
        h("tbody", {}, c.streams.map((s) => h("tr", {}, h("td", {}, s.name), h("td", {}, s.leader || "none"),
          h("td", {}, String(s.replicas)), h("td", {}, String(s.messages)), h("td", {}, String(s.lag)))))))] : null);
  } catch (e) { if (!stale(view)) add(failure(e)); }
}

// ---------------------------------------------------------------- routing

function route() {
  if (!state.me) return;
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const [name, arg] = parts;
  state.route = name || "board";
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === state.route || (a.dataset.nav === "aid" && state.route === "aid")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  switch (state.route) {
    case "message": return showMessage(arg);
    case "advisories": return showBoard("advisory");
    case "aid": return arg ? showAidRequest(arg) : showAid();
    case "situation": return showSituation(arg);
    case "health": return showHealth();
    default: state.route = "board"; return showBoard("");
  }
}

function start() {
  const top = document.getElementById("top");
  top.hidden = false;
  document.getElementById("who").textContent = state.me.name + " (" + state.me.id + ")";
  connect();
  if (!location.hash || location.hash === "#/") location.hash = "#/board";
  else route();
}

document.getElementById("logout").addEventListener("click", async () => {
  try { await call("logout", { body: {} }); } catch (e) { /* logged out anyway */ }
  location.hash = "";
  loggedOut();
});
window.addEventListener("hashchange", route);

(async () => {
  try { state.me = await call("me"); start(); } catch (e) { showLogin(); }
})();
