"""The static HTML evidence report for reviewers (``report.html``).

One self-contained file: every distinct image is stored once (base64 PNG in a script
table, referenced by every row that shows it, so a neighbour that is nearest to many rows
costs its bytes once), sorting is a few lines of vanilla JavaScript (click a column
header; click again to reverse), a click on any image shows it enlarged (Esc or a click
closes), and nothing is fetched from a server. Per flagged row it shows the image, the
given and suggested labels, the model's top-3 class probabilities, the label-quality
score, the flags, and the nearest example of the relevant classes (in the feature space
that made the probabilities) so a reviewer can compare.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipeline.shards import atomic_write_bytes

__all__ = ["ReportRow", "render_report", "write_report"]


@dataclass(frozen=True)
class ReportRow:
    """One flagged row of the report.

    Attributes:
        sample_id: The row's id.
        png: PNG bytes of the image.
        given: Given label name.
        suggested: Suggested label name.
        quality: Label-quality score (lower = more likely wrong).
        rank: Review rank (1 = first).
        flags: Issue names set on the row.
        neighbours: ``(class name, sample_id, png bytes)`` of the nearest example of each class.
        top: ``(class name, probability)`` of the model's most probable classes.

    """

    sample_id: str
    png: bytes
    given: str
    suggested: str
    quality: float
    rank: int
    flags: tuple[str, ...] = ()
    neighbours: tuple[tuple[str, str, bytes], ...] = field(default_factory=tuple)
    top: tuple[tuple[str, float], ...] = ()


_STYLE = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse}
th,td{border:1px solid #ccc;padding:4px 6px;vertical-align:middle;text-align:left}
th[data-type]{cursor:pointer;background:#f3f3f3;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
img{image-rendering:pixelated;width:72px;height:72px;object-fit:contain;background:#000}
img.nb{width:48px;height:48px}
figure{display:inline-block;margin:0 3px;text-align:center;font-size:11px}
.flag{display:inline-block;background:#fde2e1;border-radius:3px;padding:0 4px;margin:1px;
font-size:12px}
.diff{color:#b00020;font-weight:600}
img{cursor:zoom-in}
#zoom{display:none;position:fixed;inset:0;background:rgba(0,0,0,.8);align-items:center;
justify-content:center;cursor:zoom-out}
#zoom.open{display:flex}
#zoom img{width:min(80vmin,640px);height:min(80vmin,640px);cursor:zoom-out}
#zoom p{color:#fff;position:absolute;bottom:1em}
.top{font-size:12px;white-space:nowrap}
"""

_SCRIPT = """
(function(){
  document.querySelectorAll('img[data-k]').forEach(function(im){
    im.src='data:image/png;base64,'+IMAGES[im.dataset.k];
  });
  const zoom=document.getElementById('zoom'), big=zoom.querySelector('img');
  document.addEventListener('click',function(e){
    if(e.target.tagName==='IMG'&&e.target.dataset.k&&!zoom.contains(e.target)){
      big.src=e.target.src; zoom.querySelector('p').textContent=e.target.alt;
      zoom.classList.add('open');
    } else if(zoom.contains(e.target)){ zoom.classList.remove('open'); }
  });
  document.addEventListener('keydown',function(e){
    if(e.key==='Escape'){ zoom.classList.remove('open'); }
  });
})();
(function(){
  const table=document.getElementById('audit');
  const body=table.tBodies[0];
  table.querySelectorAll('th[data-type]').forEach(function(th,_){
    th.addEventListener('click',function(){
      const col=Array.prototype.indexOf.call(th.parentNode.children,th);
      const asc=th.getAttribute('aria-sort')!=='ascending';
      table.querySelectorAll('th').forEach(function(h){h.removeAttribute('aria-sort');});
      th.setAttribute('aria-sort',asc?'ascending':'descending');
      const num=th.dataset.type==='num';
      const rows=Array.from(body.rows);
      rows.sort(function(a,b){
        const x=a.cells[col].dataset.value, y=b.cells[col].dataset.value;
        const c=num?(parseFloat(x)-parseFloat(y)):x.localeCompare(y);
        return asc?c:-c;
      });
      rows.forEach(function(r){body.appendChild(r);});
    });
  });
})();
"""


class _Images:
    """Distinct images of the page, each stored once and referenced by key."""

    def __init__(self) -> None:
        self.keys: dict[bytes, str] = {}

    def img(self, png: bytes, cls: str, alt: str) -> str:
        key = self.keys.setdefault(png, f"i{len(self.keys)}")
        return f'<img class="{cls}" alt="{html.escape(alt)}" data-k="{key}">'

    def script(self) -> str:
        table = ",".join(f'"{k}":"{base64.b64encode(png).decode("ascii")}"'
                         for png, k in self.keys.items())
        return f"<script>const IMAGES={{{table}}};</script>"


def render_report(rows: Sequence[ReportRow], *, title: str, summary: Mapping[str, Any]) -> str:
    """Return the report's HTML text.

    Args:
        rows: Flagged rows, in review order.
        title: Page title (the audited config).
        summary: Key -> value lines shown above the table (method, counts, accuracy).

    Returns:
        A complete HTML document.

    """
    esc = html.escape
    head = (
        '<tr><th data-type="num">rank</th><th>image</th><th data-type="str">sample_id</th>'
        '<th data-type="str">given</th><th data-type="str">suggested</th>'
        '<th>top-3 probabilities</th>'
        '<th data-type="num">quality</th><th data-type="str">flags</th>'
        "<th>nearest examples</th></tr>"
    )
    body = []
    images = _Images()
    for r in rows:
        diff = ' class="diff"' if r.suggested != r.given else ""
        flags = "".join(f'<span class="flag">{esc(f)}</span>' for f in r.flags)
        nbs = "".join(
            f'<figure title="{esc(sid)}">{images.img(png, "nb", f"nearest {name}: {sid}")}'
            f"<figcaption>{esc(name)}</figcaption></figure>"
            for name, sid, png in r.neighbours
        )
        body.append(
            f'<tr id="{esc(r.sample_id)}">'
            f'<td data-value="{r.rank}">{r.rank}</td>'
            f"<td>{images.img(r.png, 'main', r.sample_id)}</td>"
            f'<td data-value="{esc(r.sample_id)}">{esc(r.sample_id)}</td>'
            f'<td data-value="{esc(r.given)}">{esc(r.given)}</td>'
            f'<td data-value="{esc(r.suggested)}"{diff}>{esc(r.suggested)}</td>'
            f'<td class="top">{"<br>".join(f"{esc(n)} {p:.3f}" for n, p in r.top)}</td>'
            f'<td data-value="{r.quality:.6g}">{r.quality:.4f}</td>'
            f'<td data-value="{esc(" ".join(r.flags))}">{flags}</td>'
            f"<td>{nbs}</td></tr>"
        )
    facts = "".join(f"<li><b>{esc(str(k))}</b>: {esc(str(v))}</li>" for k, v in summary.items())
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{esc(title)}</h1><ul>{facts}</ul>"
        "<p>Click a column header to sort; click again to reverse. Lower quality = more likely "
        "mislabelled. Suggested labels in red differ from the given label.</p>"
        f'<table id="audit"><thead>{head}</thead><tbody>{"".join(body)}</tbody></table>'
        '<div id="zoom"><img alt="enlarged"><p></p></div>'
        f"{images.script()}<script>{_SCRIPT}</script></body></html>\n"
    )


def write_report(path: str | Path, rows: Sequence[ReportRow], *, title: str,
                 summary: Mapping[str, Any]) -> Path:
    """Render the report and write it atomically to ``path``."""
    out = Path(path)
    atomic_write_bytes(out, render_report(rows, title=title, summary=summary).encode("utf-8"))
    return out
