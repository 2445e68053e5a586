// viclip view: the page over a scored run. Every value from the run is put in the page as text
// (textContent, attributes), never as HTML. The view's state lives in the URL's hash.
"use strict";
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let S = {}; // the URL state
let summary = null;
let simCut = null; // the CLIP-SIM at the FLT cut, for the scatter

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const k of kids) if (k != null) e.append(k instanceof Node ? k : String(k));
  return e;
}
function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
function readState() {
  S = Object.fromEntries(new URLSearchParams(location.hash.slice(1)));
}
function writeState(patch) {
  for (const [k, v] of Object.entries(patch)) if (v === "" || v == null) delete S[k]; else S[k] = String(v);
  history.replaceState(null, "", "#" + new URLSearchParams(S).toString());
}
async function api(path, params) {
  const q = params ? "?" + new URLSearchParams(Object.entries(params).filter(([, v]) => v !== "" && v != null)) : "";
  const r = await fetch(path + q);
  const j = await r.json();
  if (!r.ok) throw new Error(j.error || r.statusText);
  return j;
}
const fmt = (v, d = 4) => (v == null ? "–" : Number(v).toFixed(d));
const dur = (h) => (h >= 1 ? `${h.toFixed(1)} h` : h * 60 >= 1 ? `${(h * 60).toFixed(1)} min` : `${(h * 3600).toFixed(1)} s`);

function showView(v) {
  v = v || "overview";
  writeState({ view: v });
  for (const s of document.querySelectorAll("main section")) s.classList.toggle("on", s.id === v);
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("on", a.dataset.view === v);
}

// A clip card: the strip of the frames the model saw, caption, span, scores, status, error.
function card(c, extra) {
  const failed = c.status && c.status !== "ok";
  const d = el("div", { class: "card" + (failed ? " failed" : ""), "data-id": c.id });
  if (summary && summary.videos && c.status !== "missing_video") {
    const img = el("img", { class: "strip", loading: "lazy", alt: "frames of clip " + c.id, src: "/clip/" + c.id + "/frames.png" });
    img.addEventListener("load", () => img.setAttribute("data-loaded", "1"));
    img.addEventListener("error", async () => {
      // Say why (a video outside the root, a missing file) instead of a broken image.
      let why = "frames unavailable";
      try { const r = await fetch(img.src); why = (await r.json()).error || why; } catch (e) { /* keep the default */ }
      img.replaceWith(el("div", { class: "err", "data-loaded": "0" }, why));
    });
    d.append(img);
  }
  if (extra) d.append(el("div", { class: "meta" }, extra));
  d.append(el("div", { class: "cap" }, c.caption == null ? "(no caption)" : c.caption));
  d.append(el("div", { class: "meta" }, `#${c.id} · sim ${fmt(c.viclip_sim)} · aes ${fmt(c.aesthetic, 2)} · ${c.status || ""}`));
  d.append(el("div", { class: "meta" }, `${c.video || ""} ${c.start || ""}–${c.end || ""}`));
  if (c.error) d.append(el("div", { class: "err" }, c.error));
  if (c.warning) d.append(el("div", { class: "warn" }, c.warning));
  d.addEventListener("click", () => openClip(c));
  return d;
}
function cards(box, list, extra) {
  box.replaceChildren(...list.map((c, i) => card(c, extra && extra(i))));
}

// Opening a card: the span in the video element when the browser plays the file, else a frame stepper.
function openClip(c) {
  const dlg = $("player"), v = $("p-video"), fr = $("p-frames");
  $("p-title").textContent = c.caption == null ? "(no caption)" : c.caption;
  $("p-meta").textContent = `#${c.id} · ${c.video || ""} · ${c.start || ""}–${c.end || ""} · sim ${fmt(c.viclip_sim)} · ${c.status || ""}`;
  const s = parseFloat(c.start) || 0, e = parseFloat(c.end);
  const stepper = () => {
    v.style.display = "none"; fr.style.display = "flex";
    const T = summary.preprocess.num_frames, S0 = summary.preprocess.size;
    let i = 0;
    const f = $("p-frame");
    f.style.width = S0 + "px"; f.style.height = S0 + "px";
    f.style.backgroundImage = `url("/clip/${c.id}/frames.png")`;
    const show = () => { f.style.backgroundPosition = `-${i * S0}px 0`; };
    $("p-prev").onclick = () => { i = (i + T - 1) % T; show(); };
    $("p-next").onclick = () => { i = (i + 1) % T; show(); };
    show();
  };
  const ext = (c.video || "").split(".").pop().toLowerCase();
  const mime = { mp4: "video/mp4", m4v: "video/mp4", webm: "video/webm", mkv: "video/webm", mov: "video/mp4" }[ext] || "";
  if (summary.videos && mime && v.canPlayType(mime)) {
    v.style.display = "block"; fr.style.display = "none";
    v.onerror = stepper;
    v.src = `/clip/${c.id}/video#t=${s}` + (isNaN(e) ? "" : `,${e}`);
    v.play().catch(() => {});
  } else {
    v.removeAttribute("src");
    stepper();
  }
  dlg.showModal();
}

function histogram(h, name) {
  const W = 600, H = 160;
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H + 16}`, class: "hist", "data-col": name });
  const max = Math.max(1, ...h.bins.map((b) => b.count));
  const lo = h.bins[0].lo, hi = h.bins[h.bins.length - 1].hi, bw = W / h.bins.length;
  h.bins.forEach((b, i) => {
    const bh = (b.count / max) * H;
    const r = svgEl("rect", { class: "bar", x: i * bw, y: H - bh, width: Math.max(0.5, bw - 1), height: bh });
    const t = svgEl("title"); t.textContent = `[${fmt(b.lo)}, ${fmt(b.hi)}): ${b.count}`; r.append(t);
    r.addEventListener("click", () => {
      writeState({ sort: name, min: b.lo, max: i === h.bins.length - 1 ? b.hi + 1e-6 : b.hi, offset: 0 });
      syncClipControls(); showView("clips"); loadClips();
    });
    svg.append(r);
  });
  for (const [q, v] of h.quantiles) {
    if (![0.05, 0.5, 0.95].includes(q)) continue;
    const x = ((v - lo) / Math.max(1e-9, hi - lo)) * W;
    svg.append(svgEl("line", { class: "q", x1: x, x2: x, y1: 0, y2: H }));
    const t = svgEl("text", { x: Math.min(x, W - 60), y: H + 13 }); t.textContent = `p${Math.round(q * 100)} ${fmt(v, 3)}`;
    svg.append(t);
  }
  return el("div", {}, el("h2", {}, `${name}: ${h.count} rows, mean ${fmt(h.mean)}`), svg);
}

async function loadOverview() {
  const st = summary.status;
  const t = el("table", { class: "status" });
  for (const [k, v] of Object.entries(st)) t.append(el("tr", {}, el("td", {}, k), el("td", {}, v)));
  $("statuses").replaceChildren(el("h2", {}, "Rows by status"), t);
  const hs = [];
  for (const col of ["viclip_sim", "aesthetic"]) {
    if (col === "aesthetic" && !summary.aesthetic) continue;
    const h = await api("/api/histogram", { col, bins: 40 });
    if (h) hs.push(histogram(h, col));
  }
  $("hists").replaceChildren(...hs);
  await loadSamples();
}
async function loadSamples() {
  const col = S.scol || "viclip_sim";
  $("s-col").value = col;
  const b = await api("/api/samples", { col, buckets: 6, per: 4, seed: S.seed || 0 });
  $("samples").replaceChildren(...b.map((x) => {
    const box = el("div", { class: "cards" });
    cards(box, x.clips);
    return el("div", {}, el("h3", {}, `${col} in [${fmt(x.lo, 3)}, ${fmt(x.hi, 3)}) · ${x.count} rows`), box);
  }));
}

function syncClipControls() {
  $("c-sort").value = S.sort || "viclip_sim";
  $("c-order").value = S.order || "desc";
  $("c-status").value = S.status || "";
  $("c-min").value = S.min || "";
  $("c-max").value = S.max || "";
}
async function loadClips() {
  const limit = 24, offset = +(S.offset || 0);
  try {
    const r = await api("/api/clips", { sort: S.sort, order: S.order, status: S.status, min: S.min, max: S.max, offset, limit });
    cards($("clip-list"), r.clips);
    $("c-pos").textContent = r.total ? ` ${offset + 1}–${offset + r.clips.length} of ${r.total} ` : " no clips ";
  } catch (e) { $("c-pos").textContent = " " + e.message + " "; }
}

async function loadThreshold() {
  for (const [id, k] of [["t-frac", "frac"], ["t-mind", "min_dur"], ["t-maxd", "max_dur"], ["t-aes", "min_aes"]]) if (S[k] != null) $(id).value = S[k];
  const p = { frac: S.frac, min_dur: S.min_dur, max_dur: S.max_dur, min_aes: S.min_aes };
  try {
    const r = await api("/api/threshold", p);
    $("t-result").textContent = `kept ${r.kept} of ${r.rows} rows, ${dur(r.kept_hours)} of ${dur(r.hours)} of video` + (r.sim_cut != null ? ` · CLIP-SIM cut ${fmt(r.sim_cut)}` : "");
    simCut = r.sim_cut;
    $("t-command").textContent = r.command || "choose an FLT fraction and/or a minimum aesthetic score";
    cards($("t-above"), r.above); cards($("t-below"), r.below);
  } catch (e) { $("t-result").textContent = e.message; }
  if (summary.aesthetic) {
    const pts = await api("/api/scatter", { bins: 2000 });
    const W = 400, H = 300, svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, class: "scatter", width: W, height: H });
    if (pts.length) {
      const xs = pts.map((p) => p[1]), ys = pts.map((p) => p[2]);
      const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
      const X = (v) => ((v - x0) / Math.max(1e-9, x1 - x0)) * (W - 10) + 5, Y = (v) => H - 5 - ((v - y0) / Math.max(1e-9, y1 - y0)) * (H - 10);
      for (const p of pts) svg.append(svgEl("circle", { cx: X(p[1]), cy: Y(p[2]), r: 2 }));
      if (S.min_aes) svg.append(svgEl("line", { x1: 0, x2: W, y1: Y(+S.min_aes), y2: Y(+S.min_aes) }));
      if (simCut != null) svg.append(svgEl("line", { x1: X(simCut), x2: X(simCut), y1: 0, y2: H }));
      const label = (x, y, t) => { const e = svgEl("text", { x, y, class: "axis" }); e.textContent = t; return e; };
      svg.append(label(8, H - 8, `CLIP-SIM ${fmt(x0, 3)} → ${fmt(x1, 3)}`), label(8, 14, `aesthetic ${fmt(y0, 2)} ↑ ${fmt(y1, 2)}`));
    }
    $("scatter").replaceChildren(el("h3", {}, "CLIP-SIM × aesthetic"), svg);
  }
}

async function runSearch() {
  const q = S.q;
  if (!summary.search.on) { $("q-info").textContent = "Text search is off: " + summary.search.reason; return; }
  if (!q) return;
  $("q").value = q;
  $("q-info").textContent = "searching…";
  try {
    const r = await api("/api/search", { q, k: 24 });
    $("q-info").textContent = `${r.hits.length} clips, ${fmt(r.ms, 0)} ms`;
    cards($("search-results"), r.hits.map((h) => h.clip), (i) => `cosine ${fmt(r.hits[i].score)}`);
  } catch (e) { $("q-info").textContent = e.message; }
}

async function main() {
  readState();
  try { summary = await api("/api/summary"); } catch (e) { $("run").textContent = e.message; return; }
  $("run").textContent = `${summary.out} · ${summary.rows} of ${summary.table_rows} rows`;
  if (summary.complete < summary.shards.length) {
    $("run").append(el("div", { class: "partial" }, `Still being scored: ${summary.complete} of ${summary.shards.length} shards complete (${summary.in_flight} in flight); rows of other shards are not shown yet.`));
  }
  for (const s of Object.keys(summary.status)) $("c-status").append(el("option", { value: s }, s));
  for (const a of document.querySelectorAll("nav a")) a.addEventListener("click", (e) => { e.preventDefault(); showView(a.dataset.view); });
  for (const id of ["c-sort", "c-order", "c-status", "c-min", "c-max"]) $(id).addEventListener("change", () => {
    writeState({ sort: $("c-sort").value, order: $("c-order").value, status: $("c-status").value, min: $("c-min").value, max: $("c-max").value, offset: 0 });
    loadClips();
  });
  $("c-prev").onclick = () => { writeState({ offset: Math.max(0, +(S.offset || 0) - 24) }); loadClips(); };
  $("c-next").onclick = () => { writeState({ offset: +(S.offset || 0) + 24 }); loadClips(); };
  for (const [id, k] of [["t-frac", "frac"], ["t-mind", "min_dur"], ["t-maxd", "max_dur"], ["t-aes", "min_aes"]]) $(id).addEventListener("change", () => { writeState({ [k]: $(id).value }); loadThreshold(); });
  $("s-col").onchange = () => { writeState({ scol: $("s-col").value }); loadSamples(); };
  $("s-again").onclick = () => { writeState({ seed: Math.floor(Math.random() * 1e9) }); loadSamples(); };
  $("q-form").addEventListener("submit", (e) => { e.preventDefault(); writeState({ q: $("q").value }); runSearch(); });
  $("p-close").onclick = () => { $("p-video").pause(); $("player").close(); };
  showView(S.view);
  syncClipControls();
  await Promise.all([loadOverview(), loadClips(), loadThreshold(), runSearch()]);
  document.body.setAttribute("data-ready", "1");
}
main();
