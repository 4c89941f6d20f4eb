"""A self-contained HTML page: sections of tables and figures, PNGs embedded as base64 data URIs.

The page needs no other file and no network (no scripts, inline CSS), so it can be mailed,
archived or opened from any folder.
"""

from __future__ import annotations

import base64
import html
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from contagion._version import __version__

__all__ = ["Page", "Figure", "format_number"]

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto; max-width: 1200px;
       padding: 1.5em; color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; }
p.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; vertical-align: top; }
th { background: #f4f4f4; } td:first-child, th:first-child { text-align: left; }
table.pairs td { text-align: left; } table.pairs td:first-child { font-weight: 600; white-space: nowrap; }
figure { margin: 0 0 2em; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.9em; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; font-size: 0.8em; }
.note { color: #8a5a00; } footer { color: #777; font-size: 0.8em; margin-top: 3em; }
"""


def format_number(value) -> str:
    """Compact text for a table cell."""
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
            return f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


@dataclass
class Figure:
    """A PNG on disk with its title and caption."""

    path: Path
    title: str
    caption: str = ""


@dataclass
class Page:
    """An HTML report being assembled.

    Parameters
    ----------
    title : str
    subtitle : str
    """

    title: str
    subtitle: str = ""
    _parts: list[str] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self._parts.append(f"<h2>{html.escape(text)}</h2>")

    def paragraph(self, text: str, *, note: bool = False) -> None:
        cls = ' class="note"' if note else ""
        self._parts.append(f"<p{cls}>{html.escape(text)}</p>")

    def table(self, frame: pd.DataFrame, *, index: bool = False, max_rows: int = 500, header: bool = True,
              css_class: str | None = None) -> None:
        """A table; cells are escaped; numbers formatted with :func:`format_number`."""
        shown = frame.head(max_rows)
        cells = shown.map(lambda v: format_number(v.item() if hasattr(v, "item") else v))
        self._parts.append(cells.to_html(index=index, escape=True, border=0, na_rep="", header=header,
                                         classes=css_class))
        if len(frame) > max_rows:
            self.paragraph(f"first {max_rows} of {len(frame):,} rows", note=True)

    def pairs(self, items: dict) -> None:
        """A two-column table of ``name: value``."""
        self.table(pd.DataFrame({"name": list(items), "value": [str(v) for v in items.values()]}), header=False,
                   css_class="pairs")

    def preformatted(self, text: str) -> None:
        self._parts.append(f"<pre>{html.escape(text)}</pre>")

    def figure(self, fig: Figure) -> None:
        """Embed a PNG as a data URI."""
        data = base64.b64encode(Path(fig.path).read_bytes()).decode("ascii")
        self._parts.append(
            f'<figure id="{html.escape(Path(fig.path).stem)}"><h3>{html.escape(fig.title)}</h3>'
            f'<img src="data:image/png;base64,{data}" alt="{html.escape(fig.title)}">'
            f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>")

    def render(self) -> str:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        head = (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
                f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                f"<title>{html.escape(self.title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n")
        header = f"<header><h1>{html.escape(self.title)}</h1>"
        if self.subtitle:
            header += f'<p class="sub">{html.escape(self.subtitle)}</p>'
        header += "</header>\n"
        footer = f"<footer>contagion {html.escape(__version__)}, written {html.escape(stamp)}</footer>\n"
        return head + header + "\n".join(self._parts) + "\n" + footer + "</body>\n</html>\n"

    def write(self, path: str | os.PathLike) -> Path:
        """Write the page (to a temporary name, then renamed)."""
        out = Path(path)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(self.render(), encoding="utf-8")
        os.replace(tmp, out)
        return out
