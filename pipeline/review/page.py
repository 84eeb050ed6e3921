"""The review page: one self-contained HTML document (no external assets, no framework)."""

from __future__ import annotations

__all__ = ["PAGE"]

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>benchsmith review</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5em;max-width:1000px}
#img{image-rendering:pixelated;min-width:256px;max-width:512px;border:1px solid #888}
.cand{padding:.3em .6em;margin:.2em;border:1px solid #999;border-radius:4px;display:inline-block}
.cand.valid{background:#c8f7c5;border-color:#2a2}
.opt{padding:.1em .4em;border:1px solid #bbb;border-radius:3px;margin-right:.3em}
.opt.on{background:#ffe08a;border-color:#b80}
kbd{background:#eee;border:1px solid #aaa;border-radius:3px;padding:0 .3em}
#status{color:#555}
</style></head><body>
<h2>benchsmith review <span id="pos"></span></h2>
<div id="status">loading...</div>
<div style="display:flex;gap:2em;align-items:flex-start">
<img id="img" alt="image under review">
<div>
<p><b>sample</b> <code id="sid"></code> <span id="kind"></span></p>
<p><b>given label</b>: <span id="given"></span></p>
<p><b>model predictions</b>: <span id="preds"></span></p>
<p><b>valid labels</b> (toggle with number keys):<br><span id="cands"></span></p>
<p><b>category</b>: <span id="cats"></span></p>
<p><b>severity</b>: <span id="sevs"></span></p>
</div></div>
<p class="help"><kbd>1</kbd>-<kbd>9</kbd> toggle a label valid &middot; <kbd>0</kbd> none valid
&middot; <kbd>f</kbd> fine-grained <kbd>o</kbd> fine-grained OOV <kbd>s</kbd> spurious
<kbd>p</kbd> non-prototypical &middot; <kbd>M</kbd> major <kbd>m</kbd> minor
<kbd>b</kbd> borderline &middot; <kbd>Enter</kbd> save &amp; next &middot; <kbd>u</kbd> unsure
&middot; <kbd>&larr;</kbd>/<kbd>&rarr;</kbd> previous/next</p>
<script>
const TOKEN = "__BENCHSMITH_TOKEN__";
const CATS = {f: "fine_grained", o: "fine_grained_oov", s: "spurious_correlation",
              p: "non_prototypical"};
const SEVS = {M: "major", m: "minor", b: "borderline"};
let items = [], pos = 0, state = null;
function fresh(it) { return {valid: new Set(), category: null, severity: null}; }
function opts(el, table, value) {
  el.innerHTML = "";
  for (const [k, v] of Object.entries(table)) {
    const s = document.createElement("span");
    s.className = "opt" + (v === value ? " on" : "");
    s.dataset.value = v; s.textContent = k + " " + v; el.appendChild(s);
  }
}
function render() {
  const it = items[pos];
  document.getElementById("pos").textContent = `${pos + 1} / ${items.length}`;
  if (!it) { document.getElementById("status").textContent = "nothing to review"; return; }
  document.getElementById("img").src = `/image/${it.index}`;
  document.getElementById("sid").textContent = it.sample_id;
  document.getElementById("kind").textContent =
    "(" + it.kind + (it.reviewed ? ", reviewed" : "") + ")";
  document.getElementById("given").textContent = `${it.given} ${it.given_name}`;
  document.getElementById("preds").textContent = it.predictions.length ?
    it.predictions.map(p => `${p.model}: ${p.label} ${p.name}`).join("; ") : "none";
  const c = document.getElementById("cands"); c.innerHTML = "";
  it.candidates.forEach((cand, i) => {
    const s = document.createElement("span");
    s.className = "cand" + (state.valid.has(cand.label) ? " valid" : "");
    s.dataset.label = cand.label;
    s.textContent = `${i + 1}: ${cand.label} ${cand.name} (${cand.why})`; c.appendChild(s);
  });
  opts(document.getElementById("cats"), CATS, state.category);
  opts(document.getElementById("sevs"), SEVS, state.severity);
}
function go(delta) {
  pos = Math.max(0, Math.min(items.length - 1, pos + delta));
  state = fresh(items[pos]); render();
}
async function save(verdict) {
  const it = items[pos];
  const body = {index: it.index, valid: [...state.valid], category: state.category,
                severity: state.severity, verdict: verdict};
  const r = await fetch("/api/vote", {method: "POST", body: JSON.stringify(body),
                                      headers: {"Content-Type": "application/json",
                                                "X-Benchsmith-Token": TOKEN}});
  const out = await r.json();
  if (!r.ok) { document.getElementById("status").textContent = "error: " + out.error; return; }
  it.reviewed = true;
  document.getElementById("status").textContent =
    `saved ${out.lines} vote line(s) for ${it.sample_id} (${out.total} saved so far)`;
  document.body.dataset.saved = String(out.total);
  if (pos < items.length - 1) go(1); else render();
}
document.addEventListener("keydown", (e) => {
  if (!items.length || e.ctrlKey || e.metaKey || e.altKey) return;
  const it = items[pos];
  if (e.key >= "1" && e.key <= "9") {
    const cand = it.candidates[Number(e.key) - 1];
    if (cand) { state.valid.has(cand.label) ? state.valid.delete(cand.label)
                                            : state.valid.add(cand.label); }
  } else if (e.key === "0") { state.valid.clear();
  } else if (e.key in CATS) { state.category = state.category === CATS[e.key] ? null : CATS[e.key];
  } else if (e.key in SEVS) { state.severity = state.severity === SEVS[e.key] ? null : SEVS[e.key];
  } else if (e.key === "Enter") { save("valid"); return;
  } else if (e.key === "u") { save("unsure"); return;
  } else if (e.key === "ArrowRight") { go(1); return;
  } else if (e.key === "ArrowLeft") { go(-1); return;
  } else { return; }
  e.preventDefault(); render();
});
fetch("/api/items").then(r => r.json()).then(data => {
  items = data.items;
  const first = items.findIndex(it => !it.reviewed);
  pos = first < 0 ? 0 : first;
  document.getElementById("status").textContent =
    `${items.length} items, annotator ${data.annotator}, votes file ${data.votes}`;
  state = items.length ? fresh(items[pos]) : null;
  document.body.dataset.ready = "1";
  render();
});
</script></body></html>
"""
