/* shopfloor dashboard: asset health and maintenance pages (uses app.js's $, api, esc, post, can, state). */
"use strict";
const PAGES = [];  // [prefix, nav id, show function]: app.js's route() consults it

function healthColour(h) { return h === null ? "var(--line)" : h >= 80 ? "var(--good)" : h >= 40 ? "#d9a400" : "var(--bad)"; }

async function showHealth() {
  state.selected = null; renderTree(); clearCharts();
  $("#content").innerHTML = `<h1>Asset health</h1><div class="crumbs">Anomaly scores of every scored asset (1 = edge of normal operation),
    health from the score, the sensors furthest from normal · least healthy first · updates every 5 s</div>
    <table><thead><tr><th>asset</th><th>health</th><th>score</th><th>sensors behind it</th><th>model</th><th></th></tr></thead>
    <tbody id="health-rows"></tbody></table>`;
  $("#health-rows").addEventListener("click", async (e) => {
    const b = e.target.closest("[data-retrain]"); if (!b) return;
    const r = await post(`/api/v1/models/${b.dataset.retrain}/retrain`, {});
    if (!r.ok) alert(`retrain: ${(await r.json()).detail || r.status}`);
    await renderHealth();
  });
  await renderHealth();
}

async function renderHealth() {
  const body = $("#health-rows"); if (!body) return;
  const rows = await api("/api/v1/health/assets");
  body.innerHTML = rows.map((r) => {
    const top = state.latest.get(`${r.asset}/anomaly_top`);
    const learning = r.state === "learning";
    const bar = r.health === null ? `<span class="hint">${learning ? `learning ${r.learned_rows}/${r.train_rows} rows` : "-"}</span>`
      : `<span class="hbar"><span style="width:${r.health}%;background:${healthColour(r.health)}"></span></span> ${r.health.toFixed(0)}`;
    return `<tr data-asset="${esc(r.asset)}"><td><a data-go="${esc(r.asset)}" style="color:var(--accent);cursor:pointer">${esc(r.asset)}</a></td>
      <td>${bar}</td><td class="num">${r.score === null ? "" : r.score.toFixed(2)}</td>
      <td>${r.score !== null && r.score > 1 && top ? esc(top.value) : ""}</td>
      <td>${r.model_version ? `v${r.model_version}` : ""}</td>
      <td>${can("models:write") && !learning ? `<button class="act" data-retrain="${esc(r.asset)}">Retrain</button>` : ""}</td></tr>`;
  }).join("") || `<tr><td colspan="6" class="hint">No scored assets (the analytics role is not running).</td></tr>`;
  body.querySelectorAll("[data-go]").forEach((el) => el.addEventListener("click", () => { location.hash = `#/asset/${encodeURIComponent(el.dataset.go)}`; }));
}
setInterval(() => { if (location.hash.startsWith("#/health")) renderHealth().catch(() => {}); }, 5000);

const NEXT_STATE = { planned: ["released", "cancelled"], released: ["in_progress", "cancelled"], in_progress: ["done", "cancelled"] };

async function showMaintenance() {
  state.selected = null; renderTree(); clearCharts();
  const orders = await api("/api/v1/workorders");
  $("#content").innerHTML = `<h1>Maintenance</h1><div class="crumbs">Work orders from <code>shopfloor maintenance plan</code>
    or <code>POST /api/v1/maintenance/plan</code>, as a Gantt chart and a list</div>
    <div id="gantt">${gantt(orders)}</div>
    <table><thead><tr><th>#</th><th>state</th><th>start</th><th>hours</th><th>asset</th><th>work</th><th>P(fail first)</th><th></th></tr></thead>
    <tbody id="wo-rows">${orders.map((o) => `<tr data-id="${o.id}"><td>${o.id}</td><td>${esc(o.state)}</td>
      <td>${o.planned_start ? new Date(o.planned_start / 1e6).toLocaleString() : ""}</td><td class="num">${o.duration_h}</td>
      <td>${esc(o.asset)}</td><td>${esc(o.description)}</td><td class="num">${(100 * o.failure_probability).toFixed(1)} %</td>
      <td>${can("maintenance:write") ? (NEXT_STATE[o.state] || []).map((s) => `<button class="act" data-to="${s}">${s.replace("_", " ")}</button>`).join(" ") : ""}</td></tr>`).join("")
      || `<tr><td colspan="8" class="hint">No work orders yet.</td></tr>`}</tbody></table>`;
  $("#wo-rows").addEventListener("click", async (e) => {
    const b = e.target.closest("[data-to]"); if (!b) return;
    const r = await post(`/api/v1/workorders/${b.closest("tr").dataset.id}/state`, { state: b.dataset.to });
    if (!r.ok) alert(`work order: ${(await r.json()).detail || r.status}`);
    await showMaintenance();
  });
}

function gantt(orders) {
  const open = orders.filter((o) => o.planned_start && o.state !== "cancelled");
  if (!open.length) return "";
  const t0 = Math.min(...open.map((o) => o.planned_start)), t1 = Math.max(...open.map((o) => o.planned_start + o.duration_h * 3.6e12));
  const assets = [...new Set(open.map((o) => o.asset))];
  const W = 900, L = 260, H = 24, span = Math.max(t1 - t0, 3.6e12);
  const x = (t) => L + (W - L - 10) * (t - t0) / span;
  const bars = open.map((o) => {
    const y = 20 + assets.indexOf(o.asset) * H;
    return `<rect x="${x(o.planned_start).toFixed(1)}" y="${y}" width="${Math.max(3, x(o.planned_start + o.duration_h * 3.6e12) - x(o.planned_start)).toFixed(1)}" height="${H - 6}"
      class="wo wo-${esc(o.state)}"><title>#${o.id} ${esc(o.description)} (${esc(o.state)})</title></rect>`;
  }).join("");
  const labels = assets.map((a, i) => `<text x="4" y="${20 + i * H + 13}" class="glabel">${esc(a)}</text>`).join("");
  const ticks = [0, 0.25, 0.5, 0.75].map((f) => { const t = t0 + f * span; return `<text x="${x(t).toFixed(1)}" y="12" class="glabel">${new Date(t / 1e6).toLocaleString([], { month: "short", day: "numeric", hour: "2-digit" })}</text>`; }).join("");
  return `<svg viewBox="0 0 ${W} ${30 + assets.length * H}" class="gantt" role="img" aria-label="maintenance plan">${ticks}${labels}${bars}</svg>`;
}

PAGES.push(["/health", "nav-health", showHealth], ["/maintenance", "nav-maint", showMaintenance]);
