/* A small trend chart on canvas: min/max band + average line, time axis, drag to zoom.
   shopfloor's own code (no front-end build step). Points: {ts (ns), avg|value, min, max}. */
"use strict";
class TrendChart {
  constructor(canvas, opts = {}) {
    this.canvas = canvas; this.ctx = canvas.getContext("2d");
    this.points = []; this.unit = opts.unit || ""; this.onZoom = opts.onZoom || null;
    this.low = opts.low ?? null; this.high = opts.high ?? null;
    this.range = null; this.drag = null;
    canvas.addEventListener("mousedown", (e) => { this.drag = { x0: this._x(e), x1: this._x(e) }; });
    canvas.addEventListener("mousemove", (e) => { if (this.drag) { this.drag.x1 = this._x(e); this.draw(); } else { this.hover = this._x(e); this.draw(); } });
    canvas.addEventListener("mouseleave", () => { this.hover = null; this.draw(); });
    window.addEventListener("mouseup", () => this._endDrag());
    canvas.addEventListener("dblclick", () => { if (this.onZoom) this.onZoom(null); });
    new ResizeObserver(() => this.draw()).observe(canvas);
  }
  _x(e) { const r = this.canvas.getBoundingClientRect(); return e.clientX - r.left; }
  _endDrag() {
    if (!this.drag) return;
    const { x0, x1 } = this.drag; this.drag = null;
    if (Math.abs(x1 - x0) > 5 && this.onZoom && this.view) {
      const t = (x) => this.view.t0 + (x - this.pad.l) / this.view.w * (this.view.t1 - this.view.t0);
      this.onZoom([t(Math.min(x0, x1)), t(Math.max(x0, x1))]);
    }
    this.draw();
  }
  setData(points, range) { this.points = points; this.range = range; this.draw(); }
  append(ts, value) {
    if (typeof value !== "number") return;
    this.points.push({ ts, avg: value, min: value, max: value });
    if (this.range && this.range.live) {
      const span = this.range.end - this.range.start;
      this.range = { start: ts - span, end: ts, live: true };
      while (this.points.length && this.points[0].ts < this.range.start) this.points.shift();
    }
    this.draw();
  }
  draw() {
    const c = this.canvas, dpr = window.devicePixelRatio || 1;
    const W = c.clientWidth, H = c.clientHeight; if (!W || !H) return;
    if (c.width !== W * dpr) { c.width = W * dpr; c.height = H * dpr; }
    const g = this.ctx; g.setTransform(dpr, 0, 0, dpr, 0, 0); g.clearRect(0, 0, W, H);
    const pad = this.pad = { l: 56, r: 10, t: 8, b: 22 };
    const w = W - pad.l - pad.r, h = H - pad.t - pad.b;
    const pts = this.points.filter((p) => typeof (p.avg ?? p.value) === "number");
    g.font = "11px system-ui"; g.fillStyle = "#8b96a5"; g.strokeStyle = "#2a3340";
    if (!pts.length) { g.fillText("no data in this range", pad.l + 8, pad.t + 20); this.view = null; return; }
    const t0 = this.range ? this.range.start : pts[0].ts, t1 = this.range ? this.range.end : pts[pts.length - 1].ts;
    let lo = Infinity, hi = -Infinity;
    for (const p of pts) { lo = Math.min(lo, p.min ?? p.avg ?? p.value); hi = Math.max(hi, p.max ?? p.avg ?? p.value); }
    if (lo === hi) { lo -= 1; hi += 1; }
    const m = (hi - lo) * 0.08; lo -= m; hi += m;
    this.view = { t0, t1, w, lo, hi };
    const X = (t) => pad.l + (t - t0) / Math.max(1, t1 - t0) * w, Y = (v) => pad.t + (1 - (v - lo) / (hi - lo)) * h;
    g.beginPath();
    for (let i = 0; i <= 4; i++) { const v = lo + (hi - lo) * i / 4, y = Y(v); g.moveTo(pad.l, y); g.lineTo(pad.l + w, y); g.fillText(fmt(v), 4, y + 4); }
    g.stroke();
    for (let i = 0; i <= 4; i++) { const t = t0 + (t1 - t0) * i / 4; const s = new Date(t / 1e6).toLocaleTimeString(); g.fillText(s, Math.min(pad.l + w * i / 4 - 20, W - 60), H - 6); }
    for (const [lim, col] of [[this.low, "#d29922"], [this.high, "#d29922"]]) {
      if (lim !== null && lim >= lo && lim <= hi) { g.save(); g.setLineDash([4, 4]); g.strokeStyle = col; g.beginPath(); g.moveTo(pad.l, Y(lim)); g.lineTo(pad.l + w, Y(lim)); g.stroke(); g.restore(); }
    }
    if (pts[0].min !== undefined) {
      g.fillStyle = "rgba(76,154,255,0.18)"; g.beginPath();
      pts.forEach((p, i) => { const x = X(p.ts), y = Y(p.max ?? p.avg); i ? g.lineTo(x, y) : g.moveTo(x, y); });
      for (let i = pts.length - 1; i >= 0; i--) g.lineTo(X(pts[i].ts), Y(pts[i].min ?? pts[i].avg));
      g.closePath(); g.fill();
    }
    g.strokeStyle = "#4c9aff"; g.lineWidth = 1.5; g.beginPath();
    pts.forEach((p, i) => { const x = X(p.ts), y = Y(p.avg ?? p.value); i ? g.lineTo(x, y) : g.moveTo(x, y); });
    g.stroke(); g.lineWidth = 1;
    if (this.drag) { g.fillStyle = "rgba(255,255,255,0.08)"; const a = Math.min(this.drag.x0, this.drag.x1); g.fillRect(a, pad.t, Math.abs(this.drag.x1 - this.drag.x0), h); }
    else if (this.hover && this.hover > pad.l) {
      const t = t0 + (this.hover - pad.l) / w * (t1 - t0);
      let best = pts[0]; for (const p of pts) if (Math.abs(p.ts - t) < Math.abs(best.ts - t)) best = p;
      g.strokeStyle = "#8b96a5"; g.beginPath(); g.moveTo(X(best.ts), pad.t); g.lineTo(X(best.ts), pad.t + h); g.stroke();
      g.fillStyle = "#d8dee9"; const label = `${new Date(best.ts / 1e6).toLocaleTimeString()}  ${fmt(best.avg ?? best.value)} ${this.unit}`;
      g.fillText(label, Math.min(X(best.ts) + 6, W - 160), pad.t + 12);
    }
  }
}
function fmt(v) { if (typeof v !== "number") return String(v); const a = Math.abs(v); return a >= 1e4 || (a < 0.01 && a > 0) ? v.toExponential(2) : (+v.toFixed(a >= 100 ? 1 : 3)).toString(); }
window.TrendChart = TrendChart; window.fmt = fmt;
