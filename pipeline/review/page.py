"""The review page: one self-contained HTML document (no external assets, no framework).

Keyboard (shown on the page):

* ``Enter`` saves and moves on. An item nobody touched saves as "the given label is
  correct"; the page shows that default before anything is pressed.
* Number keys toggle a label valid: class ids when there are at most 10 classes, else
  the offered candidates 1-9. ``/`` opens a type-ahead over every class name (``Enter``
  adds the highlighted class, ``Esc`` closes). ``n``: no label is valid; ``c``: back
  to "given label correct".
* ``f`` / ``o`` / ``s`` / ``p`` mistake category, ``M`` / ``m`` / ``b`` severity (saved
  with the item, shown highlighted).
* ``u`` unsure, ``z`` undo the last save (retracted in the votes file, the item shown
  again), arrow keys previous / next.

The server substitutes ``__BENCHSMITH_TOKEN__`` with the session's write token.
"""

from __future__ import annotations

__all__ = ["PAGE"]

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>benchsmith review</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1050px}
#img{image-rendering:pixelated;width:320px;border:1px solid #888}
.cand{padding:.3em .6em;margin:.2em;border:1px solid #999;border-radius:4px;display:inline-block}
.cand.valid{background:#c8f7c5;border-color:#2a2}
.cand.default{outline:2px dashed #2a2}
.opt{padding:.1em .4em;border:1px solid #bbb;border-radius:3px;margin-right:.3em}
.opt.on{background:#ffe08a;border-color:#b80}
kbd{background:#eee;border:1px solid #aaa;border-radius:3px;padding:0 .3em}
#status,#progress{color:#555}
#choice{font-weight:bold}
#finder{display:none;margin:.5em 0}
#finder.open{display:block}
#matches span{display:inline-block;margin:.1em .3em;padding:0 .3em;border:1px solid #ccc}
#matches span.hi{background:#dde8ff;border-color:#36c}
#start{display:none;background:#fff8e0;border:1px solid #e0c060;padding:1em}
</style></head><body>
<h2>benchsmith review <span id="pos"></span></h2>
<div id="progress"></div>
<div id="status">loading...</div>
<div id="start"></div>
<div id="main" style="display:flex;gap:2em;align-items:flex-start">
<img id="img" alt="image under review">
<div>
<p><b>sample</b> <code id="sid"></code> <span id="kind"></span></p>
<p><b>given label</b>: <span id="given"></span></p>
<p><b>model predictions</b>: <span id="preds"></span></p>
<p><b>this save</b>: <span id="choice"></span></p>
<p><b>valid labels</b> (<span id="keyhelp"></span>):<br><span id="cands"></span></p>
<div id="finder"><input id="find" placeholder="type a class name" autocomplete="off">
<div id="matches"></div></div>
<p><b>category</b>: <span id="cats"></span></p>
<p><b>severity</b>: <span id="sevs"></span></p>
</div></div>
<p class="help"><kbd>Enter</kbd> save &amp; next (untouched = given label correct) &middot;
<kbd>0</kbd>-<kbd>9</kbd> toggle a label &middot; <kbd>/</kbd> find any class &middot;
<kbd>n</kbd> no label valid &middot; <kbd>c</kbd> given label correct &middot;
<kbd>f</kbd> fine-grained <kbd>o</kbd> fine-grained OOV <kbd>s</kbd> spurious
<kbd>p</kbd> non-prototypical &middot; <kbd>M</kbd> major <kbd>m</kbd> minor
<kbd>b</kbd> borderline &middot; <kbd>u</kbd> unsure &middot; <kbd>z</kbd> undo last save
&middot; <kbd>&larr;</kbd>/<kbd>&rarr;</kbd> previous/next</p>
<script>
const TOKEN = "__BENCHSMITH_TOKEN__";
const CATS = {f: "fine_grained", o: "fine_grained_oov", s: "spurious_correlation",
              p: "non_prototypical"};
const SEVS = {M: "major", m: "minor", b: "borderline"};
let items = [], names = [], pos = 0, state = null, counts = {}, undo = [], hits = [], hi = 0;
const $ = (id) => document.getElementById(id);
function fresh(it) {
  return {valid: new Set([it.given]), touched: false, category: null, severity: null};
}
function byId() { return names.length <= 10; }
function opts(el, table, value) {
  el.innerHTML = "";
  for (const [k, v] of Object.entries(table)) {
    const s = document.createElement("span");
    s.className = "opt" + (v === value ? " on" : "");
    s.dataset.value = v; s.textContent = k + " " + v; el.appendChild(s);
  }
}
function labelText(y) { return `${y} ${names[y]}`; }
function shownLabels(it) {
  const out = it.candidates.map(c => ({label: c.label, why: c.why}));
  for (const y of state.valid) {
    if (!out.some(c => c.label === y)) out.push({label: y, why: "your pick"});
  }
  return out;
}
function progress() {
  const done = items.filter(it => it.reviewed).length;
  $("progress").textContent = `${done} / ${items.length} reviewed · given correct ` +
    `${counts.correct || 0} · other set ${counts.set || 0} · unsure ${counts.unsure || 0}`;
}
function render() {
  progress();
  const it = items[pos];
  $("pos").textContent = items.length ? `${pos + 1} / ${items.length}` : "";
  if (!it) return;
  $("img").src = `/image/${it.index}`;
  $("sid").textContent = it.sample_id;
  $("kind").textContent = "(" + it.kind + (it.rank ? ` rank ${it.rank}` : "") +
    (it.reviewed ? ", reviewed" : "") + ")";
  $("given").textContent = labelText(it.given);
  $("preds").textContent = it.predictions.length ?
    it.predictions.map(p => `${p.model}: ${labelText(p.label)}`).join("; ") : "none";
  $("keyhelp").textContent = byId() ? "number keys = class ids" : "1-9 = the labels below";
  const c = $("cands"); c.innerHTML = "";
  shownLabels(it).forEach((cand, i) => {
    const s = document.createElement("span");
    s.className = "cand" + (state.valid.has(cand.label) ? " valid" : "") +
      (!state.touched && cand.label === it.given ? " default" : "");
    s.dataset.label = cand.label;
    const key = byId() ? cand.label : i + 1;
    s.textContent = `${key}: ${labelText(cand.label)} (${cand.why})`; c.appendChild(s);
  });
  $("choice").textContent = !state.touched ? "given label correct (default)" :
    state.valid.size ? "valid: " + [...state.valid].sort((a, b) => a - b).map(labelText)
      .join(", ") : "no label is valid";
  opts($("cats"), CATS, state.category);
  opts($("sevs"), SEVS, state.severity);
}
function go(delta) {
  pos = Math.max(0, Math.min(items.length - 1, pos + delta));
  state = fresh(items[pos]); render();
}
function toggle(y) {
  if (y === undefined || y < 0 || y >= names.length) return;
  if (!state.touched) { state.valid = new Set(); state.touched = true; }
  state.valid.has(y) ? state.valid.delete(y) : state.valid.add(y);
}
async function post(body) {
  const r = await fetch("/api/vote", {method: "POST", body: JSON.stringify(body),
    headers: {"Content-Type": "application/json", "X-Benchsmith-Token": TOKEN}});
  const out = await r.json();
  if (!r.ok) { $("status").textContent = "error: " + out.error; return null; }
  counts = out.counts;
  document.body.dataset.saved = String(out.total);
  return out;
}
async function save(verdict) {
  const it = items[pos];
  if (verdict === "set" && !state.touched) verdict = "correct";
  const body = {index: it.index, valid: [...state.valid], category: state.category,
                severity: state.severity, verdict: verdict};
  const out = await post(body);
  if (!out) return;
  it.reviewed = true; undo.push(pos);
  $("status").textContent = `saved ${verdict} for ${it.sample_id} ` +
    `(${out.lines} line(s), ${out.total} so far)`;
  if (pos < items.length - 1) go(1); else render();
}
async function retract() {
  if (!undo.length) { $("status").textContent = "nothing to undo"; return; }
  const back = undo.pop();
  const out = await post({index: items[back].index, verdict: "retract"});
  if (!out) return;
  items[back].reviewed = false; pos = back; state = fresh(items[pos]);
  $("status").textContent = `undid the save of ${items[back].sample_id}`;
  render();
}
function findOpen() {
  $("finder").classList.add("open"); $("find").value = ""; find(); $("find").focus();
}
function findClose() { $("finder").classList.remove("open"); $("find").blur(); }
function find() {
  const q = $("find").value.trim().toLowerCase();
  hits = names.map((n, i) => [n, i]).filter(([n, i]) => !q || n.toLowerCase().includes(q)
    || String(i) === q).slice(0, 12);
  hi = 0;
  $("matches").innerHTML = hits.map(([n, i], k) =>
    `<span class="${k === hi ? "hi" : ""}">${i} ${n}</span>`).join("");
}
$("find").addEventListener("input", find);
$("find").addEventListener("keydown", (e) => {
  if (e.key === "Escape") { findClose(); e.preventDefault(); }
  else if (e.key === "Enter") {
    if (hits.length) toggle(hits[hi][1]);
    findClose(); render(); e.preventDefault();
  }
  e.stopPropagation();
});
document.addEventListener("keydown", (e) => {
  if (!items.length || e.ctrlKey || e.metaKey || e.altKey) return;
  if (document.activeElement === $("find")) return;
  const it = items[pos];
  if (e.key >= "0" && e.key <= "9") {
    if (byId()) toggle(Number(e.key));
    else { const c = shownLabels(it)[Number(e.key) - 1]; if (c) toggle(c.label); }
  } else if (e.key === "/") { findOpen(); e.preventDefault(); return;
  } else if (e.key === "n") { state.valid = new Set(); state.touched = true;
  } else if (e.key === "c") { state.valid = new Set([it.given]); state.touched = false;
  } else if (e.key in CATS) { state.category = state.category === CATS[e.key] ? null : CATS[e.key];
  } else if (e.key in SEVS) { state.severity = state.severity === SEVS[e.key] ? null : SEVS[e.key];
  } else if (e.key === "Enter") { save("set"); e.preventDefault(); return;
  } else if (e.key === "u") { save("unsure"); return;
  } else if (e.key === "z") { retract(); return;
  } else if (e.key === "ArrowRight") { go(1); return;
  } else if (e.key === "ArrowLeft") { go(-1); return;
  } else { return; }
  e.preventDefault(); render();
});
fetch("/api/items").then(r => r.json()).then(data => {
  items = data.items; names = data.names; counts = data.counts;
  const first = items.findIndex(it => !it.reviewed);
  pos = first < 0 ? 0 : first;
  $("status").textContent =
    `${items.length} items, annotator ${data.annotator}, votes file ${data.votes}`;
  if (!items.length) {
    $("main").style.display = "none"; $("start").style.display = "block";
    $("start").innerHTML = "<b>Nothing to review yet.</b><ul>" +
      data.notes.map(n => `<li>${n}</li>`).join("") + "</ul><p>Run <code>benchsmith audit" +
      "</code> (its top-K queue becomes the review items) or start with <code>--predictions " +
      "preds.parquet</code> to review model mistakes; <code>--audit-column COLUMN</code> picks " +
      "another flag of the audit config.</p>";
  } else {
    state = fresh(items[pos]);
  }
  document.body.dataset.ready = "1";
  render();
});
</script></body></html>
"""
