// Tocsin console. Plain JavaScript, no dependencies. Every value from the
// server goes into the page as text (never as HTML), but for an
// advisory's body_html: Markdown the server rendered with raw HTML and
// dangerous links left out (markdown.go), under a policy with no inline
// script.
"use strict";

const api = "api/";
const main = document.getElementById("main");
const state = {
  me: null, source: null, route: "", messages: new Map(),
  // queue is what still needs the member (api/queue, then the event
  // stream): id -> message.
  queue: new Map(),
  // acked are the ids the router recorded as acknowledged since the queue
  // was read (a replica may answer the next read a moment behind).
  acked: new Set(),
  armed: false, audio: null, sounds: 0, notified: 0, viewTitle: "Tocsin", exerciseView: false,
  // sightingSeq counts the sighting events; sightingAt is the count at
  // each alert's last one, so a page loaded while one arrived reads it again.
  sightingSeq: 0, sightingAt: new Map(),
};

// The lanes, most severe first (records.SeverityOf orders them the same).
const laneOrder = { flash: 4, urgent: 3, routine: 2, info: 1 };

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

// Times are shown in the browser's own time zone, which the header names.
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";

// when is t in local time with its zone ("Dec 7, 2026, 2:31:05 AM EST").
function when(t) {
  if (!t) return "";
  return new Date(t).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "long" });
}

function ago(t) {
  const s = Math.round((Date.now() - new Date(t).getTime()) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return Math.round(s / 60) + " min ago";
  if (s < 86400) return Math.round(s / 3600) + " h ago";
  return Math.round(s / 86400) + " days ago";
}

// timeEl is a <time> of t: its text how long ago (refreshed every 30 s)
// and its title the local time; absolute shows the local time itself.
function timeEl(t, absolute) {
  if (!t) return "";
  return absolute ? h("time", { datetime: t, class: "abs" }, when(t))
    : h("time", { datetime: t, "data-rel": "", title: when(t) }, ago(t));
}

function refreshTimes() {
  for (const el of document.querySelectorAll("time[data-rel]")) {
    const t = el.getAttribute("datetime");
    el.textContent = ago(t);
    el.title = when(t);
  }
}
setInterval(refreshTimes, 30000);

function tlpBadge(tlp) {
  return h("span", { class: "badge tlp tlp-" + tlp, title: "Traffic Light Protocol" }, "TLP:" + String(tlp).toUpperCase());
}

function badges(m) {
  return [
    h("span", { class: "badge lane-badge-" + m.lane }, m.lane),
    tlpBadge(m.tlp),
    m.kind === "advisory" ? h("span", { class: "badge" }, "advisory") : null,
    exerciseBadge(m.exercise),
    m.revoked ? h("span", { class: "badge revoked" }, "revoked") : null,
  ];
}

// exerciseBadge marks a drill; the page-wide EXERCISE banner shows while
// one is on the page.
function exerciseBadge(on) {
  return on ? h("span", { class: "badge exercise", "data-exercise": "" }, "exercise") : null;
}

// sightingText says how many organisations have seen an alert's
// indicators, per sector; below the floor, "fewer than 3".
function sightingText(list) {
  if (!list || !list.length) return null;
  return "Seen by " + list.map((s) => (s.organisations ? String(s.organisations) : "fewer than " + s.fewer_than) +
    " organisations in " + s.sector + (s.named && s.named.length ? " (" + s.named.join(", ") + ")" : "")).join("; ");
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
  setTitle(title);
  state.view = {};
  return state.view;
}

// setTitle names the tab; while FLASH alerts wait, the tab says so first.
function setTitle(title) {
  state.viewTitle = title;
  const n = flashes().length;
  document.title = n ? "(" + n + ") FLASH — Tocsin" : title + " · Tocsin";
}

function stale(view) { return view !== state.view; }

function failure(err) {
  return h("p", { class: "error", role: "alert" }, String(err.message || err));
}

// ---------------------------------------------------------------- what needs you

// flashes are the FLASH messages in the queue.
function flashes() { return [...state.queue.values()].filter((m) => m.lane === "flash"); }

function queueOrder(a, b) {
  return (laneOrder[b.lane] || 0) - (laneOrder[a.lane] || 0) || new Date(b.added) - new Date(a.added);
}

// loadQueue reads the queue from the server: the messages routed to the
// member minus those its receipts acknowledge, as stored.
async function loadQueue() {
  try {
    const q = await call("queue");
    state.queue = new Map(q.messages.filter((m) => !state.acked.has(m.id)).map((m) => [m.id, m]));
    state.queueLoaded = true;
    state.queueError = "";
  } catch (e) {
    state.queueError = "The queue could not be read: " + e.message;
  }
  renderQueue();
  updateAlerting();
}

// byWho is who acknowledges from this browser ("J. Ortiz, SOC"), kept
// in this browser only.
function byWho() {
  const el = document.getElementById("ack-by");
  return (el ? el.value : localStorage.getItem("tocsin.by") || "").trim();
}

// acknowledge sends the member's acknowledged receipt (through the node,
// as the member's own receipt); the queue changes when the router records
// it (a "receipt" event).
async function acknowledge(id, state_) {
  return call("messages/" + encodeURIComponent(id) + "/receipt", { body: { state: state_ || "acknowledged", by: byWho() } });
}

function renderQueue() {
  const box = document.getElementById("queue");
  if (!box) return;
  const list = [...state.queue.values()].sort(queueOrder);
  const count = document.getElementById("queue-count");
  count.textContent = String(list.length);
  const items = list.map((m) => {
    const status = h("span", { class: "ack-status", role: "status" });
    return h("li", { class: "card lane-" + m.lane, "data-id": m.id, "data-queue": "" },
      cardBody(m),
      h("div", { class: "card-actions" },
        h("button", { type: "button", "data-ack": m.id, onclick: async (ev) => {
          ev.target.disabled = true;
          status.textContent = "Sending…";
          try { await acknowledge(m.id); status.textContent = "Sent: waiting for the router to record it."; }
          catch (e) { status.textContent = e.message; ev.target.disabled = false; }
        } }, "Acknowledge"), status));
  });
  const list_ = document.getElementById("queue-list");
  list_.replaceChildren(...items);
  document.getElementById("queue-empty").hidden = list.length > 0 || !state.queueLoaded;
  document.getElementById("queue-error").textContent = state.queueError || "";
}

function queueSection() {
  const by = h("input", { id: "ack-by", name: "by", maxlength: "128", autocomplete: "name", placeholder: "e.g. J. Ortiz, SOC",
    value: localStorage.getItem("tocsin.by") || "", onchange: (ev) => localStorage.setItem("tocsin.by", ev.target.value.trim()) });
  return h("section", { id: "queue", class: "queue", "aria-labelledby": "queue-h" },
    h("h2", { id: "queue-h" }, "Needs you ", h("span", { class: "count", id: "queue-count" }, "…")),
    h("p", { class: "muted" }, "Messages routed to you that you have not acknowledged, most urgent first. Acknowledging sends your receipt to the sender."),
    h("div", { class: "by" }, h("label", { for: "ack-by" }, "Acknowledging as (optional)"), by),
    h("p", { id: "queue-error", class: "error", role: "alert" }),
    h("p", { id: "queue-empty", class: "ok", hidden: true }, "Nothing waits for you."),
    h("ul", { class: "cards", id: "queue-list", "aria-label": "Needs you" }));
}

// updateAlerting shows the FLASH banner and tab title while FLASH alerts
// wait, and the arm banner while alerts are not armed.
function updateAlerting() {
  const f = flashes().sort(queueOrder);
  const banner = document.getElementById("flash-banner");
  if (state.me && f.length) {
    banner.replaceChildren(h("strong", {}, "FLASH"), " " + f.length + " unacknowledged: ",
      h("a", { href: "#/message/" + encodeURIComponent(f[0].id) }, f[0].title || "(untitled)"),
      f.length > 1 ? " and " + (f.length - 1) + " more" : "");
    banner.hidden = false;
  } else banner.hidden = true;
  document.body.classList.toggle("flashing", f.length > 0);
  document.getElementById("arm-banner").hidden = !state.me || state.armed;
  document.getElementById("armed-state").hidden = !state.armed;
  setTitle(state.viewTitle);
}

// arm is the user gesture browsers want before a page may play sound: it
// starts the audio and asks for notifications where they are undecided.
function arm() {
  try {
    const AC = window.AudioContext || window.webkitAudioContext;
    state.audio = state.audio || new AC();
    state.audio.resume();
  } catch (e) { state.audio = null; }
  if ("Notification" in window && Notification.permission === "default") {
    try { Notification.requestPermission(); } catch (e) { /* not offered here */ }
  }
  state.armed = true;
  document.body.dataset.armed = "true";
  chime();
  updateAlerting();
  announce("Alerts armed: FLASH alerts will sound.");
}

// chime plays three tones.
function chime() {
  const ac = state.audio;
  if (!ac) return;
  const t = ac.currentTime;
  [880, 660, 880].forEach((f, i) => {
    const o = ac.createOscillator(), g = ac.createGain(), at = t + i * 0.25;
    o.type = "square";
    o.frequency.value = f;
    g.gain.setValueAtTime(0.0001, at);
    g.gain.exponentialRampToValueAtTime(0.3, at + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, at + 0.22);
    o.connect(g).connect(ac.destination);
    o.start(at);
    o.stop(at + 0.24);
  });
  state.sounds++;
  document.body.dataset.sounds = String(state.sounds);
}

// alarm is a new FLASH alert: a sound when armed, a notification where
// permitted.
function alarm(m) {
  if (state.armed) chime();
  if ("Notification" in window && Notification.permission === "granted") {
    try {
      const n = new Notification("FLASH: " + (m.title || "(untitled)"), { body: "From " + (m.sender_name || m.sender), tag: m.id, requireInteraction: true });
      n.onclick = () => { window.focus(); location.hash = "#/message/" + encodeURIComponent(m.id); };
      state.notified++;
      document.body.dataset.notified = String(state.notified);
    } catch (e) { /* notifications need a service worker here */ }
  }
}

// While FLASH alerts wait, an armed console sounds again every minute.
setInterval(() => { if (state.armed && flashes().length) chime(); }, 60000);

// updateExercise shows the EXERCISE banner while a drill is on the page
// or the board shows exercises only.
function updateExercise() {
  const on = !!state.me && (state.exerciseView || !!main.querySelector("[data-exercise]"));
  document.getElementById("exercise-banner").hidden = !on;
  document.body.classList.toggle("exercise-page", on);
}
new MutationObserver(updateExercise).observe(main, { childList: true, subtree: true });

// ---------------------------------------------------------------- login

function loggedOut() {
  state.me = null;
  if (state.source) { state.source.close(); state.source = null; }
  state.queue = new Map();
  state.acked = new Set();
  document.getElementById("top").hidden = true;
  updateAlerting();
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
  // (Re)connected: what was routed meanwhile is read again.
  src.onopen = () => { conn.textContent = "live"; conn.classList.remove("down"); loadQueue(); };
  src.onerror = () => { conn.textContent = "reconnecting…"; conn.classList.add("down"); };
  src.addEventListener("message", (ev) => {
    const m = JSON.parse(ev.data);
    const isNew = !state.messages.has(m.id);
    state.messages.set(m.id, m);
    if (isNew) {
      announce("New " + m.lane + " " + m.kind + ": " + m.title + ", from " + (m.sender_name || m.sender));
      const list = document.getElementById("board-list");
      if (list && (state.route === "board" || (state.route === "advisories" && m.kind === "advisory"))) {
        if (state.filtered) document.getElementById("board-new").hidden = false;
        else {
          const empty = document.getElementById("board-empty");
          if (empty) empty.remove();
          list.prepend(card(m, true));
        }
      }
      if (m.sender !== state.me.id && !state.acked.has(m.id)) {
        state.queue.set(m.id, m);
        renderQueue();
        updateAlerting();
        if (m.lane === "flash") alarm(m);
      }
    }
  });
  // The router recorded one of the member's own receipts.
  src.addEventListener("receipt", (ev) => {
    const r = JSON.parse(ev.data);
    if (r.acknowledged || r.actioned) {
      state.acked.add(r.id);
      state.queue.delete(r.id);
      renderQueue();
      updateAlerting();
      for (const el of document.querySelectorAll('.card[data-id="' + CSS.escape(r.id) + '"]:not([data-queue]) .ack-state')) el.hidden = false;
      const mine = document.getElementById("my-receipt");
      if (mine && mine.dataset.id === r.id) mine.replaceChildren("acknowledged ", timeEl(r.acknowledged || r.actioned, true));
    }
  });
  // A new sighting count for an alert the member may see.
  src.addEventListener("sighting", (ev) => {
    const r = JSON.parse(ev.data);
    state.sightingAt.set(r.id, ++state.sightingSeq);
    refreshSightings(r.id);
  });
  src.addEventListener("reach", (ev) => {
    const r = JSON.parse(ev.data);
    const box = document.getElementById("reach");
    if (box && box.dataset.id === r.id) loadReach(r.id, box);
  });
  src.addEventListener("logout", () => loggedOut());
}

// refreshSightings reads alert id's sighting counts again into every
// place the page shows them.
async function refreshSightings(id) {
  const shown = document.querySelectorAll('.card[data-id="' + CSS.escape(id) + '"] .sightings, #sightings[data-id="' + CSS.escape(id) + '"]');
  if (!shown.length) return;
  try {
    const m = await call("messages/" + encodeURIComponent(id));
    for (const el of shown) el.textContent = sightingText(m.sightings) || (el.id === "sightings" ? "none reported yet" : "");
  } catch (e) { /* no longer visible */ }
}

// refreshSightingsSince reads again the counts of the alerts that had a
// sighting event after seq: the page was loading then and missed it.
function refreshSightingsSince(seq) {
  for (const [id, at] of state.sightingAt) if (at > seq) refreshSightings(id);
}

// ---------------------------------------------------------------- board

function cardBody(m) {
  return h("a", { class: "body", href: "#/message/" + encodeURIComponent(m.id) },
    h("span", {}, badges(m)),
    h("span", { class: "title" }, m.title || "(untitled)"),
    h("span", { class: "meta" },
      h("span", { class: "verified", title: "signature verified against the member registry" }, "✓ " + (m.sender_name || m.sender)),
      m.via ? h("span", {}, "via " + m.via) : null,
      timeEl(m.signed),
      h("span", { class: "sightings" }, sightingText(m.sightings) || "")));
}

function card(m, fresh) {
  const mine = state.me && m.sender === state.me.id;
  return h("li", { class: "card lane-" + m.lane + (fresh ? " fresh" : ""), "data-id": m.id },
    cardBody(m),
    mine ? null : h("span", { class: "ack-state", hidden: !(m.acknowledged || m.actioned || state.acked.has(m.id)) }, "✓ acknowledged"));
}

// The board's filters, as query parameters of the page's address
// ("#/board?lane=flash&q=203.0.113.7") and of api/messages.
const filterNames = ["lane", "tlp", "sector", "sender", "exercise", "q"];

function filterForm(kind, params) {
  const select = (name, label, options) => [h("label", { for: "f-" + name }, label),
    h("select", { id: "f-" + name, name }, options.map(([v, text]) => h("option", { value: v, selected: (params.get(name) || "") === v }, text)))];
  const senders = [...new Set([...state.messages.values()].map((m) => m.sender))].sort();
  const form = h("form", { class: "filters", id: "filters", role: "search", "aria-label": "Filter the board", onsubmit: (ev) => {
    ev.preventDefault();
    const q = new URLSearchParams();
    for (const name of filterNames) { const v = form.elements[name].value.trim(); if (v) q.set(name, v); }
    location.hash = "#/" + (kind === "advisory" ? "advisories" : "board") + (q.size ? "?" + q : "");
  } },
    h("div", {}, select("lane", "Lane", [["", "any"], ["flash", "flash"], ["urgent", "urgent"], ["routine", "routine"], ["info", "info"]])),
    h("div", {}, select("tlp", "TLP", [["", "any"], ["clear", "TLP:CLEAR"], ["green", "TLP:GREEN"], ["amber", "TLP:AMBER"], ["amber+strict", "TLP:AMBER+STRICT"], ["red", "TLP:RED"]])),
    h("div", {}, select("sector", "Sector", [["", "any"], ...(state.me.sectors || []).map((x) => [x, x]), ["direct", "sent to me directly"]])),
    h("div", {}, h("label", { for: "f-sender" }, "Sender"),
      h("input", { id: "f-sender", name: "sender", list: "f-senders", value: params.get("sender") || "", autocapitalize: "none", spellcheck: "false" }),
      h("datalist", { id: "f-senders" }, senders.map((x) => h("option", { value: x })))),
    h("div", {}, select("exercise", "Exercises", [["", "shown"], ["only", "only exercises"], ["hide", "hidden"]])),
    h("div", { class: "wide" }, h("label", { for: "f-q" }, "Indicator value"),
      h("input", { id: "f-q", name: "q", type: "search", value: params.get("q") || "", placeholder: "203.0.113.7, a domain, a hash…", autocapitalize: "none", spellcheck: "false" })),
    h("div", { class: "filter-buttons" }, h("button", { type: "submit", id: "filter-apply" }, "Filter"),
      state.filtered ? h("a", { href: "#/" + (kind === "advisory" ? "advisories" : "board"), id: "filter-clear" }, "Clear filters") : null));
  // Open on a wide screen or while filtering; a phone opens it when wanted.
  const open = state.filtered || window.matchMedia("(min-width: 48rem)").matches;
  return h("details", { class: "filters-box", open }, h("summary", {}, state.filtered ? "Filters (on)" : "Filters and search"), form);
}

async function showBoard(kind, params) {
  params = params || new URLSearchParams();
  const q = new URLSearchParams();
  for (const name of filterNames) if (params.get(name)) q.set(name, params.get(name));
  state.filtered = q.size > 0;
  state.exerciseView = params.get("exercise") === "only";
  if (kind) q.set("kind", kind);
  const title = kind === "advisory" ? "Advisories" : "Alert board";
  const list = h("ul", { class: "cards", id: "board-list", "aria-label": title });
  const view = page(title,
    kind ? null : queueSection(),
    h("h2", {}, kind === "advisory" ? "Every advisory" : "Everything you may see"),
    h("p", { class: "muted" }, kind === "advisory"
      ? "Advisories from the liaison to your sectors." + (state.me.liaison ? " Open one to see its reach." : "")
      : "Alerts and advisories you may see, newest first. New ones appear here as they are routed."),
    filterForm(kind, params),
    h("p", { id: "board-new", class: "muted", hidden: true }, "New messages have arrived: ", h("a", { href: "#/board" }, "clear the filters"), " to see them."),
    list);
  if (!kind) { renderQueue(); loadQueue(); }
  const seq = state.sightingSeq;
  try {
    const res = await call("messages?" + q);
    if (stale(view)) return;
    for (const m of res.messages) state.messages.set(m.id, m);
    if (res.messages.length === 0) list.before(h("p", { id: "board-empty", class: "muted" }, state.filtered ? "Nothing passes these filters." : "Nothing yet."));
    list.replaceChildren(...res.messages.map((m) => card(m, false)));
    refreshSightingsSince(seq);
    list.dataset.loaded = new URLSearchParams([...q].filter(([k]) => k !== "kind")).toString();
  } catch (e) { if (!stale(view)) add(failure(e)); }
}

// ---------------------------------------------------------------- message

async function showMessage(id) {
  const view = page("Loading…");
  const seq = state.sightingSeq;
  let m;
  try { m = await call("messages/" + encodeURIComponent(id)); } catch (e) { if (!stale(view)) page("Not found", failure(e)); return; }
  if (stale(view)) return;
  const facts = h("dl", { class: "facts" },
    h("dt", {}, "Sender"), h("dd", {}, h("span", { class: "verified", id: "verified" }, "✓ Verified"), " ", m.sender_name, " (", h("code", {}, m.sender), ")"),
    h("dt", {}, "Signing key"), h("dd", {}, h("code", {}, m.key_id), m.via ? " — relayed by a Tocsin node, via " + m.via : ""),
    h("dt", {}, "Signed"), h("dd", {}, timeEl(m.signed, true), " · ", timeEl(m.signed)),
    h("dt", {}, "Routed"), h("dd", {}, timeEl(m.added, true), " · ", timeEl(m.added)),
    m.sender === state.me.id ? null : [h("dt", {}, "Your receipt"), h("dd", { id: "my-receipt", "data-id": m.id },
      m.acknowledged || m.actioned ? ["acknowledged ", timeEl(m.acknowledged || m.actioned, true)] : "not acknowledged yet")],
    m.kind === "alert" ? [h("dt", {}, "Sightings"), h("dd", { id: "sightings", "data-id": m.id }, sightingText(m.sightings) || "none reported yet")] : null,
    h("dt", {}, "Sectors"), h("dd", {}, (m.sectors || []).join(", ") || "none (direct delivery)"),
    m.inboxes && m.inboxes.length ? [h("dt", {}, "Delivered directly to"), h("dd", {}, m.inboxes.join(", "))] : null,
    h("dt", {}, "Message id"), h("dd", {}, h("code", {}, m.id)),
    m.amends ? [h("dt", {}, m.revoked ? "Revokes" : "Amends"), h("dd", {}, h("a", { href: "#/message/" + m.amends }, m.amends))] : null);
  const text = [];
  if (m.body_html) {
    const prose = h("div", { class: "prose", id: "advisory-body" });
    prose.innerHTML = m.body_html; // rendered by the server without raw HTML or script links
    text.push(h("h2", {}, "Advisory"), prose);
  } else if (m.body) text.push(h("h2", {}, "Advisory"), h("p", { class: "prose" }, m.body));
  if (m.recommended_action) text.push(h("h2", {}, "Recommended action"), h("p", {}, m.recommended_action));
  if (m.patient_safety_impact) text.push(h("h2", {}, "Patient safety"), h("p", {}, m.patient_safety_impact));
  if (m.contact) text.push(h("h2", {}, "Contact"), h("p", {}, m.contact));
  if (m.reason) text.push(h("h2", {}, "Reason"), h("p", {}, m.reason));
  const done = h("p", { role: "status", id: "receipt-status" });
  const receipt = (s, label) => h("button", { type: "button", "data-receipt": s, onclick: async (ev) => {
    ev.target.disabled = true;
    try { await acknowledge(m.id, s); done.className = "ok"; done.textContent = "Sent: " + s + "."; }
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
  refreshSightingsSince(seq);
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
            h("td", {}, timeEl(row.delivered, true)), h("td", {}, timeEl(row.acknowledged, true)), h("td", {}, timeEl(row.actioned, true)))))))));
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
      h("td", {}, h("span", { class: "badge lane-badge-" + r.urgency }, r.urgency), tlpBadge(r.tlp), exerciseBadge(r.exercise)),
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
  add(h("p", {}, h("span", { class: "badge lane-badge-" + r.urgency }, r.urgency), tlpBadge(r.tlp), exerciseBadge(r.exercise)),
    h("div", { class: "panel" }, h("dl", { class: "facts" },
      h("dt", {}, "Requester"), h("dd", {}, r.requester),
      h("dt", {}, "State"), h("dd", { id: "request-state" }, r.state),
      h("dt", {}, "Region"), h("dd", {}, r.region),
      h("dt", {}, "Needs"), h("dd", {}, r.needs.map((n) => h("div", {}, n.capability + ": " + n.accepted + " of " + n.quantity + " accepted"))),
      h("dt", {}, "Expires"), h("dd", {}, timeEl(r.expires_at, true)),
      r.note ? [h("dt", {}, "Note"), h("dd", {}, r.note)] : null)),
    h("h2", {}, "Offers"), out,
    offers.length === 0 ? h("p", { class: "muted" }, "No offers yet.") : h("div", { class: "scroll" }, h("table", {},
      h("thead", {}, h("tr", {}, ["Responder", "Capability", "Units", "ETA", "State", "Note", ""].map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, offers))),
    r.timeline && r.timeline.length ? [h("h2", {}, "Timeline"), h("ol", {}, r.timeline.map((ev) =>
      h("li", {}, timeEl(ev.at, true), " — ", ev.action, " by ", ev.by, ev.quantity ? " (" + ev.quantity + ")" : "", ev.note ? ": " + ev.note : "")))] : null);
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
            h("td", {}, f.name || f.member), h("td", { class: "state-" + f.state }, f.state, " ", exerciseBadge(f.exercise)),
            h("td", {}, (f.systems || []).join(", ")), h("td", {}, f.note || ""), h("td", {}, timeEl(f.at))))))));
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

// ---------------------------------------------------------------- sites

// SITE_CONTACT_OLD_MS is the age past which a site's last contact is
// old, and so are its lag and backlog: a linked site's record is written
// again every 30 s, and one not written for 75 s is taken as down
// (records.SiteContact.Seen).
const SITE_CONTACT_OLD_MS = 75000;

// siteQueues is a site's row cell "lag 0 · backlog 12": the copies the
// hub's site consumers hold that the site has not taken (source_lag) and
// the messages its outbox held behind the last one it forwarded
// (outbox_backlog). It warns, in words as well as in colour, when the
// outbox was at or past the site's alarm share of its cap (past the cap
// the site refuses what its member sends) or the last contact is old.
function siteQueues(c, now) {
  const why = [];
  if (c.outbox_alarm > 0 && c.outbox_fill >= c.outbox_alarm) {
    why.push("outbox " + Math.round(c.outbox_fill * 100) + "% full: past its cap the site refuses new messages");
  }
  if (c.last_contact && now - Date.parse(c.last_contact) > SITE_CONTACT_OLD_MS) {
    why.push("as of the last contact, " + ago(c.last_contact));
  }
  const title = "lag: copies the hub holds for the site that it has not taken yet; backlog: what the site's outbox held behind the last message it forwarded" +
    (c.outbox_backlog_at ? " (" + when(c.outbox_backlog_at) + ")" : " (it has forwarded nothing the hub still holds)");
  return h("td", { class: "queues" + (why.length ? " warn" : ""), title },
    why.length ? h("span", { "aria-hidden": "true" }, "⚠ ") : null,
    "lag " + (c.source_lag || 0) + " · backlog " + (c.outbox_backlog || 0),
    why.length ? h("span", { class: "why" }, why.join("; ")) : null);
}

// showSites is each member site's link as the hub last saw it: the
// member's own site, or every site for a liaison or an admin (api/sites).
// It reads again every 10 s while shown.
async function showSites() {
  const view = page("Sites");
  const load = async () => {
    try {
      const res = await call("sites");
      if (stale(view)) return;
      const rows = res.sites || [];
      const now = Date.parse(res.now) || Date.now();
      const body = rows.length === 0 ? h("p", { class: "muted", id: "sites-none" }, res.scope === "all" ? "No member site has linked to the hub." : "Your organisation has no site linked to the hub (tocsin site).") :
        h("div", { class: "scroll" }, h("table", { id: "sites" },
          h("thead", {}, h("tr", {}, ["Member", "Link", "Since", "Last contact", "Lag and backlog", "Node", "Transport"].map((c) => h("th", { scope: "col" }, c)))),
          h("tbody", {}, rows.map((c) => h("tr", { "data-member": c.member },
            h("td", {}, c.member),
            h("td", { class: "link" }, c.up ? h("span", { class: "ok" }, "up") : h("span", { class: "error" }, "down")),
            h("td", { class: "since" }, c.up ? ["up since ", timeEl(c.up_since, true)] : ["down since ", timeEl(c.down_since, true)]),
            h("td", { class: "last-contact" }, timeEl(c.last_contact), " (", timeEl(c.last_contact, true), ")"),
            siteQueues(c, now),
            h("td", {}, c.node || ""), h("td", {}, c.transport || ""))))));
      main.querySelector("#sites-view")?.remove();
      add(h("div", { id: "sites-view" },
        h("p", { class: "muted" }, res.scope === "all" ? "Every member site, as the hub's nodes last saw its link." : "Your site's link, as the hub's nodes last saw it."),
        body));
    } catch (e) { if (!stale(view)) add(failure(e)); return; }
    setTimeout(() => { if (!stale(view)) load(); }, 10000);
  };
  await load();
}

// ---------------------------------------------------------------- routing

function route() {
  if (!state.me) return;
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").map(decodeURIComponent);
  const [name, arg] = parts;
  const params = new URLSearchParams(query || "");
  state.route = name || "board";
  state.exerciseView = false;
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === state.route || (a.dataset.nav === "aid" && state.route === "aid")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  switch (state.route) {
    case "message": return showMessage(arg);
    case "advisories": return showBoard("advisory", params);
    case "aid": return arg ? showAidRequest(arg) : showAid();
    case "situation": return showSituation(arg);
    case "health": return showHealth();
    case "sites": return showSites();
    default: state.route = "board"; return showBoard("", params);
  }
}

function start() {
  const top = document.getElementById("top");
  top.hidden = false;
  document.getElementById("who").textContent = state.me.name + " (" + state.me.id + ")";
  document.getElementById("tz").textContent = "times: " + zone;
  updateAlerting();
  connect();
  if (!location.hash || location.hash === "#/") location.hash = "#/board";
  else route();
}

document.getElementById("logout").addEventListener("click", async () => {
  try { await call("logout", { body: {} }); } catch (e) { /* logged out anyway */ }
  location.hash = "";
  loggedOut();
});
document.getElementById("arm").addEventListener("click", arm);
window.addEventListener("hashchange", route);

(async () => {
  try { state.me = await call("me"); start(); } catch (e) { showLogin(); }
})();
