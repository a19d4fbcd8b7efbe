/* shopfloor dashboard: plant tree, machine page with live trends, dead letters. */
"use strict";
const $ = (s, el = document) => el.querySelector(s);
const api = async (path) => { const r = await fetch(path); if (r.status === 401) { showLogin(); throw new Error("not signed in"); } if (!r.ok) throw new Error(`${path}: ${r.status}`); return r.json(); };
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const state = { tree: null, latest: new Map(), selected: null, charts: new Map(), range: "15m", ws: null, open: new Set() };
const RANGES = { "15m": 900, "1h": 3600, "6h": 21600, "24h": 86400, "7d": 604800 };
const STALE_NS = 30e9;

// --- security (issue 8): who am I, login form, CSRF header, buttons by permission ---
const me = { authenticated: false, permissions: [], csrf: null, secured: true };
const can = (perm) => me.permissions.includes(perm) || me.permissions.includes("admin");
const post = (path, body) => fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": me.csrf || "" }, body: JSON.stringify(body) });
function showLogin(message) {
  if ($("#login-form")) return;
  $("#tree").innerHTML = "";
  $("#content").innerHTML = `<h1>Sign in</h1><form id="login-form" class="login" autocomplete="on">
    <label>User <input id="login-user" name="username" autocomplete="username" required></label>
    <label>Password <input id="login-pass" name="password" type="password" autocomplete="current-password" required></label>
    <button type="submit">Sign in</button><p id="login-error" class="hint">${esc(message || "")}</p></form>`;
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const r = await fetch("/api/v1/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("#login-user").value, password: $("#login-pass").value }) });
    if (r.ok) { location.reload(); return; }
    $("#login-error").textContent = (await r.json()).detail || `sign-in failed (${r.status})`;
  });
}
async function whoAmI() {
  Object.assign(me, await (await fetch("/api/v1/auth/me")).json());
  $("#banner").hidden = me.secured !== false;
  const u = $("#user");
  if (me.authenticated && me.kind !== "anonymous") {
    u.innerHTML = `${esc(me.name)} (${esc(me.role)}) <a href="#" id="logout">sign out</a>`;
    $("#logout").addEventListener("click", async (e) => { e.preventDefault(); await post("/api/v1/auth/logout", {}); location.reload(); });
  }
  return me.authenticated;
}
// --- end security ---

async function init() {
  if (!(await whoAmI())) { showLogin(); return; }
  const plant = await api("/api/v1/assets");
  state.tree = plant;
  $("#plant-name").textContent = plant.name;
  for (const site of plant.children) state.open.add(site.path);
  for (const s of await api("/api/v1/latest")) state.latest.set(`${s.asset}/${s.tag}`, s);
  renderTree();
  connect();
  refreshStatus(); setInterval(refreshStatus, 3000); refreshAlarmCount();
  window.addEventListener("hashchange", route); route();
}

function route() {
  const h = location.hash.slice(1) || "/";
  document.querySelectorAll("nav a").forEach((a) => a.classList.remove("active"));
  if (h.startsWith("/deadletters")) { $("#nav-dl").classList.add("active"); return showDeadLetters(); }
  if (h.startsWith("/alarms")) { $("#nav-alarms").classList.add("active"); return showAlarms(); }
  for (const [prefix, nav, show] of (typeof PAGES === "undefined" ? [] : PAGES)) {
    if (h.startsWith(prefix)) { $(`#${nav}`).classList.add("active"); return show(); }
  }
  $("#nav-plant").classList.add("active");
  if (h.startsWith("/asset/")) return showAsset(decodeURIComponent(h.slice(7)));
  showOverview();
}

function assetStatus(path) {
  for (const a of state.alarms || []) {
    if (a.active && a.state !== "shelved" && a.state !== "out_of_service" && (a.asset === path || a.asset.startsWith(path + "/"))) return "bad";
  }
  let newest = 0, bad = false, any = false;
  for (const [k, s] of state.latest) {
    if (k.startsWith(path + "/")) { any = true; newest = Math.max(newest, s.ts); if (s.quality === 0 && s.asset === path) bad = true; }
  }
  if (!any) return "";
  if (bad) return "bad";
  return Date.now() * 1e6 - newest > STALE_NS ? "stale" : "good";
}

function renderTree() {
  const out = [];
  const walk = (nodes, depth) => {
    for (const n of nodes) {
      const has = n.children.length > 0, open = state.open.has(n.path);
      out.push(`<div class="node ${state.selected === n.path ? "selected" : ""}" style="--depth:${depth}" data-path="${esc(n.path)}">
        <span class="twist" data-toggle="${esc(n.path)}">${has ? (open ? "▾" : "▸") : ""}</span>
        <span class="dot ${assetStatus(n.path)}" title="green: live data · amber: stale · red: active alarm or bad quality"></span><span>${esc(n.name)}</span><span class="lvl">${esc(n.level)}</span></div>`);
      if (has && open) walk(n.children, depth + 1);
    }
  };
  walk(state.tree.children, 0);
  $("#tree").innerHTML = out.join("");
}
$("#tree").addEventListener("click", (e) => {
  const t = e.target.closest("[data-toggle]");
  if (t && t.dataset.toggle && t.textContent.trim()) { const p = t.dataset.toggle; state.open.has(p) ? state.open.delete(p) : state.open.add(p); renderTree(); return; }
  const n = e.target.closest(".node"); if (n) { state.open.add(n.dataset.path); location.hash = `#/asset/${encodeURIComponent(n.dataset.path)}`; }
});

function showOverview() {
  state.selected = null; renderTree(); clearCharts();
  const cards = [];
  const walk = (nodes) => { for (const n of nodes) { if (n.level === "machine") cards.push(n); walk(n.children); } };
  walk(state.tree.children);
  $("#content").innerHTML = `<h1>${esc(state.tree.name)}</h1><div class="crumbs">${cards.length} machines</div>
    <div class="cards">${cards.map((n) => `<div class="card" data-path="${esc(n.path)}"><div class="k"><span class="dot ${assetStatus(n.path)}" style="display:inline-block"></span> ${esc(n.path.split("/").slice(0, -1).join(" / "))}</div><div class="v">${esc(n.name)}</div></div>`).join("")}</div>`;
  $("#content").querySelectorAll(".card").forEach((c) => c.addEventListener("click", () => { location.hash = `#/asset/${encodeURIComponent(c.dataset.path)}`; }));
}

async function showAsset(path) {
  const segs = path.split("/");
  for (let i = 1; i < segs.length; i++) state.open.add(segs.slice(0, i).join("/"));
  state.selected = path; renderTree(); clearCharts();
  let a;
  try { a = await api(`/api/v1/assets/${path.split("/").map(encodeURIComponent).join("/")}`); }
  catch (e) { $("#content").innerHTML = `<p class="hint">No asset ${esc(path)}.</p>`; return; }
  const parts = a.path.split("/");
  const crumbs = parts.map((p, i) => `<a data-go="${esc(parts.slice(0, i + 1).join("/"))}">${esc(p)}</a>`).join(" / ");
  const rows = a.tags.map((t) => {
    const s = state.latest.get(`${a.path}/${t.name}`) || (t.latest ? { ...t.latest } : null);
    return `<tr class="tagrow" data-tag="${esc(t.name)}"><td>${esc(t.name)}</td><td class="num" id="v-${cssId(t.name)}">${s ? valueHtml(s) : "–"}</td>
      <td>${esc(t.unit)}</td><td class="num">${t.low ?? ""}</td><td class="num">${t.high ?? ""}</td><td>${esc(t.description)}</td>
      <td class="num" id="t-${cssId(t.name)}">${s ? new Date(s.ts / 1e6).toLocaleTimeString() : ""}</td></tr>`;
  }).join("");
  const kids = a.children.map((c) => `<a data-go="${esc(c)}">${esc(c.split("/").pop())}</a>`).join(", ");
  $("#content").innerHTML = `<div class="crumbs">${crumbs}</div><h1>${esc(a.name)}</h1>
    <div class="crumbs">${esc(a.level)}${a.kind ? " · " + esc(a.kind) : ""}${a.description ? " · " + esc(a.description) : ""}${kids ? " · contains " + kids : ""}</div>
    ${a.tags.length ? `<h2>Tags</h2><table><thead><tr><th>tag</th><th>value</th><th>unit</th><th>low</th><th>high</th><th>description</th><th>time</th></tr></thead><tbody>${rows}</tbody></table>
    <h2>Trends <span class="ranges">${Object.keys(RANGES).map((r) => `<button data-range="${r}" class="${r === state.range ? "on" : ""}">${r}</button>`).join(" ")}</span>
    <span class="hint" style="font-size:12px"> click tags to add trends · drag to zoom · double-click to reset</span></h2><div class="charts" id="charts"></div>` : ""}`;
  $("#content").querySelectorAll("[data-go]").forEach((el) => el.addEventListener("click", () => { location.hash = `#/asset/${encodeURIComponent(el.dataset.go)}`; }));
  $("#content").querySelectorAll(".tagrow").forEach((tr) => tr.addEventListener("click", () => toggleChart(a, tr.dataset.tag, tr)));
  $("#content").querySelectorAll("[data-range]").forEach((b) => b.addEventListener("click", () => {
    state.range = b.dataset.range; $("#content").querySelectorAll("[data-range]").forEach((x) => x.classList.toggle("on", x === b));
    for (const c of state.charts.values()) loadChart(c, null);
  }));
  const numeric = a.tags.filter((t) => t.type === "float").slice(0, 2);
  for (const t of numeric) toggleChart(a, t.name, $(`.tagrow[data-tag="${t.name}"]`));
}

function cssId(s) { return s.replace(/[^a-zA-Z0-9_-]/g, "_"); }
function valueHtml(s) {
  const cls = s.quality === 0 ? "q-bad" : s.quality < 192 ? "q-uncertain" : "";
  const v = typeof s.value === "number" ? fmt(s.value) : esc(s.value);
  return `<span class="${cls}" title="quality ${s.quality}">${v}</span>`;
}
function clearCharts() { state.charts.clear(); }

function toggleChart(asset, tag, tr) {
  const key = `${asset.path}/${tag}`;
  if (state.charts.has(key)) { state.charts.get(key).el.remove(); state.charts.delete(key); tr && tr.classList.remove("on"); return; }
  const t = asset.tags.find((x) => x.name === tag); if (!t || t.type === "str") return;
  tr && tr.classList.add("on");
  const el = document.createElement("div"); el.className = "chart";
  el.innerHTML = `<div class="title"><span>${esc(tag)} (${esc(t.unit || "-")})</span><span class="info"></span></div><canvas></canvas>`;
  $("#charts").appendChild(el);
  const c = { key, asset: asset.path, tag, el, chart: null };
  c.chart = new TrendChart($("canvas", el), { unit: t.unit, low: t.low, high: t.high, onZoom: (r) => loadChart(c, r) });
  state.charts.set(key, c); loadChart(c, null);
}

async function loadChart(c, zoom) {
  const nowNs = Date.now() * 1e6;
  const start = zoom ? zoom[0] : nowNs - RANGES[state.range] * 1e9, end = zoom ? zoom[1] : nowNs;
  const q = new URLSearchParams({ asset: c.asset, tag: c.tag, start: String(Math.floor(start)), end: String(Math.ceil(end)), agg: "avg,min,max,count" });
  try {
    const r = await api(`/api/v1/history?${q}`);
    c.chart.setData(r.points, { start, end, live: !zoom });
    $(".info", c.el).textContent = `${r.points.length} points · bucket ${r.bucket / 1e9}s${zoom ? " · zoomed" : " · live"}`;
  } catch (e) { $(".info", c.el).textContent = String(e); }
}

function connect() {
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/v1/stream`);
  state.ws = ws;
  ws.onmessage = (ev) => {
    const rows = JSON.parse(ev.data);
    for (const s of rows) {
      const key = `${s.asset}/${s.tag}`; state.latest.set(key, s);
      if (s.asset === state.selected) {
        const cell = document.getElementById(`v-${cssId(s.tag)}`);
        if (cell) { cell.innerHTML = valueHtml(s); cell.classList.remove("flash"); void cell.offsetWidth; cell.classList.add("flash"); }
        const tcell = document.getElementById(`t-${cssId(s.tag)}`); if (tcell) tcell.textContent = new Date(s.ts / 1e6).toLocaleTimeString();
      }
      const c = state.charts.get(key); if (c && c.chart.range && c.chart.range.live) c.chart.append(s.ts, s.value);
    }
  };
  ws.onclose = () => setTimeout(connect, 2000);
}

let lastAccepted = null, lastT = null;
async function refreshStatus() {
  try {
    const h = await api("/api/v1/health");
    const ing = h.ingest || {}; const acc = ing.accepted_samples ?? ing.accepted ?? 0;
    const now = performance.now();
    const rate = lastAccepted !== null ? ((acc - lastAccepted) / ((now - lastT) / 1000)) : 0;
    lastAccepted = acc; lastT = now;
    const rej = ing.rejected_total ?? ing.rejected ?? 0;
    $("#status").textContent = `${rate.toFixed(0)} samples/s · ${h.plant.assets} assets`;
    $("#dl-count").textContent = rej; $("#dl-count").classList.toggle("alert", rej > 0);
    $("#banner").hidden = h.security ? h.security.secured : me.secured !== false;
    renderTreeDots();
  } catch (e) { $("#status").textContent = "platform unreachable"; }
}
function renderTreeDots() { document.querySelectorAll(".node").forEach((n) => { const d = $(".dot", n); d.className = `dot ${assetStatus(n.dataset.path)}`; }); }

const ALARM_FILTER = { show: "active", priority: "" };
const STATE_LABEL = { normal: "normal", unacknowledged: "UNACK", acknowledged: "acked", rtn_unacknowledged: "RTN unack",
  shelved: "shelved", suppressed: "suppressed", out_of_service: "out of service" };

async function showAlarms() {
  state.selected = null; renderTree(); clearCharts();
  $("#content").innerHTML = `<h1>Alarms</h1><div class="crumbs">ISA-18.2 alarm console · acknowledge, shelve, comment · updates live</div>
    <div class="filters">show <select id="f-show"><option value="active">active and unacknowledged</option><option value="all">all</option></select>
    priority <select id="f-prio"><option value="">any</option><option>critical</option><option>high</option><option>medium</option><option>low</option></select>
    <span id="alarm-metrics" class="hint"></span></div>
    <table><thead><tr><th>priority</th><th>state</th><th>asset</th><th>alarm</th><th>value</th><th>since</th><th></th></tr></thead><tbody id="alarm-rows"></tbody></table>`;
  $("#f-show").value = ALARM_FILTER.show; $("#f-prio").value = ALARM_FILTER.priority;
  $("#f-show").addEventListener("change", (e) => { ALARM_FILTER.show = e.target.value; renderAlarms(); });
  $("#f-prio").addEventListener("change", (e) => { ALARM_FILTER.priority = e.target.value; renderAlarms(); });
  $("#alarm-rows").addEventListener("click", onAlarmAction);
  await renderAlarms();
}

async function renderAlarms() {
  const body = $("#alarm-rows"); if (!body) return;
  const q = new URLSearchParams();
  if (ALARM_FILTER.priority) q.set("priority", ALARM_FILTER.priority);
  let rows = await api(`/api/v1/alarms?${q}`);
  if (ALARM_FILTER.show === "active") rows = rows.filter((a) => a.active || !a.acknowledged);
  body.innerHTML = rows.map((a) => `<tr class="st-${esc(a.state)}" data-id="${esc(a.id)}">
    <td><span class="prio prio-${esc(a.priority)}">${esc(a.priority)}</span></td><td>${esc(STATE_LABEL[a.state] || a.state)}</td>
    <td><a data-go="${esc(a.asset)}" style="color:var(--accent);cursor:pointer">${esc(a.asset)}</a></td>
    <td>${esc(a.message || a.name || a.rule_id)}</td><td class="num">${a.value === null || a.value === undefined ? "" : esc(fmt(a.value))}</td>
    <td>${a.since ? new Date(a.since / 1e6).toLocaleTimeString() : ""}</td>
    <td>${!can("alarms:ack") ? "" : `${!a.acknowledged && a.state !== "normal" ? `<button class="act" data-act="ack">Ack</button>` : ""}
      ${a.state === "shelved" ? `<button class="act" data-act="unshelve">Unshelve</button>` : a.state !== "normal" && a.state !== "out_of_service" ? `<button class="act" data-act="shelve">Shelve 1h</button>` : ""}
      <button class="act" data-act="comment">Comment</button>`}</td></tr>`).join("") || `<tr><td colspan="7" class="hint">No alarms.</td></tr>`;
  body.querySelectorAll("[data-go]").forEach((el) => el.addEventListener("click", () => { location.hash = `#/asset/${encodeURIComponent(el.dataset.go)}`; }));
  try {
    const m = await api("/api/v1/alarms/metrics");
    const r = m.rate || {}, st = m.standing || {};
    $("#alarm-metrics").textContent = `EEMUA 191: ${fmt(r.average ?? 0)} alarms per operator per 10 min on average, `
      + `peak ${r.peak ?? 0} (${r.assessment || "-"}) · standing ${st.count ?? 0} · chattering ${(m.chattering || []).length}`;
  } catch (e) { /* metrics are optional */ }
}

async function onAlarmAction(e) {
  const b = e.target.closest("[data-act]"); if (!b) return;
  const id = b.closest("tr").dataset.id, act = b.dataset.act;
  const body = { user: me.kind === "anonymous" || !me.name ? "operator" : me.name, comment: "" };
  if (act === "comment") { const c = prompt("Comment"); if (!c) return; body.comment = c; }
  if (act === "shelve") body.duration = "1h";
  const r = await post(`/api/v1/alarms/${encodeURIComponent(id)}/${act}`, body);
  if (!r.ok) alert(`${act}: ${(await r.json()).detail || r.status}`);
  await renderAlarms(); await refreshAlarmCount();
}

async function refreshAlarmCount() {
  try {
    const rows = await api("/api/v1/alarms");
    state.alarms = rows; renderTreeDots();
    const n = rows.filter((a) => !a.acknowledged && a.state !== "normal").length;
    $("#alarm-count").textContent = n; $("#alarm-count").classList.toggle("alert", n > 0);
    if (location.hash.startsWith("#/alarms")) await renderAlarms();
  } catch (e) { /* the platform may run without the rules role */ }
}
setInterval(refreshAlarmCount, 2000);

async function showDeadLetters() {
  state.selected = null; renderTree(); clearCharts();
  const r = await api("/api/v1/deadletters?limit=200");
  const counts = Object.entries(r.counts).map(([k, v]) => `<span class="badge">${esc(k)}: ${v}</span>`).join(" ");
  $("#content").innerHTML = `<h1>Dead letters</h1><div class="crumbs">Rejected inputs, kept with their raw payload and the reason. ${counts || "None so far."}</div>
    <table><thead><tr><th>time</th><th>source</th><th>topic</th><th>reason</th><th>error</th><th>payload</th></tr></thead><tbody>
    ${r.items.map((d) => `<tr><td>${new Date(d.ts / 1e6).toLocaleString()}</td><td>${esc(d.source)}</td><td>${esc(d.topic)}</td><td>${esc(d.reason)}</td><td>${esc(d.error)}</td><td><pre>${esc(String(d.payload).slice(0, 400))}</pre></td></tr>`).join("")}
    </tbody></table>`;
}

init().catch((e) => { $("#content").innerHTML = `<p class="hint">Cannot reach the platform: ${esc(e)}</p>`; });
