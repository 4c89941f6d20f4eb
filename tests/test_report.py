"""Reports: run plots, sweep response curves, report.html (and that it renders in a real browser)."""

from __future__ import annotations

import base64
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import contagion
from contagion.errors import ResultError
from contagion.experiment import RunFailedWarning
from contagion.reports import write_folder_report, write_report, write_sweep_report
from contagion.reports._figures import t_quantile
from contagion.reports.run_plots import RUN_PLOTS, depth_maps
from contagion.reports.sweep_plots import numeric_axis, point_table
from _support import small_scenario

PNG = b"\x89PNG\r\n\x1a\n"
RUN_FIGURES = [stem for stem, *_ in RUN_PLOTS]
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class _Images(HTMLParser):
    """Collects ``<img>`` sources, figure ids and headings of a page."""

    def __init__(self):
        super().__init__()
        self.images, self.figures, self.headings, self._in = [], [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "figure":
            self.figures.append(attrs.get("id"))
        elif tag in ("h1", "h2"):
            self._in = tag

    def handle_data(self, data):
        if self._in:
            self.headings.append(data)
            self._in = None


def _page(path):
    parser = _Images()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _embedded_pngs(page):
    out = []
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        out.append(base64.b64decode(src.split(",", 1)[1]))
    return out


@pytest.fixture(scope="module")
def run_report(minimal_result, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    minimal_result.save(folder)
    written = write_report(contagion.load_result(folder), folder)
    return folder, written


@pytest.fixture(scope="module")
def sweep_folder(tmp_path_factory):
    """A small sweep over two parameters with three seeds; the broken price file fails its runs."""
    folder = tmp_path_factory.mktemp("sweep")
    (folder / "fall.csv").write_text("time,price\n0,2000\n120,2000\n1020,1700\n1200,1700\n")
    (folder / "broken.csv").write_text("time,price\n0,2000\n600,-1\n")
    data = small_scenario()
    data["venues"]["cex_eth_usd"]["path"] = {"kind": "replay", "path": "fall.csv"}
    net = contagion.Network.from_dict(data, source="replay.yaml", base_dir=folder)
    grid = {"pools.uni_eth_usdc.fee": [0.003, 0.03], "venues.cex_eth_usd.path.path": ["fall.csv", "broken.csv"]}
    with pytest.warns(RunFailedWarning):
        table = contagion.sweep(net, grid=grid, seeds=3, executor="serial", out=folder / "out")
    return folder / "out", table


# ---------------------------------------------------------------------------------------- run
def test_run_report_writes_every_plot_and_a_page_that_embeds_them(run_report, minimal_result):
    folder, written = run_report
    assert [p.name for p in written] == [f"{stem}.png" for stem in RUN_FIGURES] + ["report.html"]
    for stem in RUN_FIGURES:
        assert (folder / "plots" / f"{stem}.png").read_bytes()[:8] == PNG
    page = _page(folder / "report.html")
    assert page.figures == RUN_FIGURES
    pngs = _embedded_pngs(page)
    assert len(pngs) == len(RUN_FIGURES) and all(p[:8] == PNG for p in pngs)
    assert pngs[0] == (folder / "plots" / "prices.png").read_bytes()
    assert page.headings[:4] == ["minimal: run report", "Run", "Summary", "Conservation"]
    text = (folder / "report.html").read_text()
    assert f"<td>liquidations</td>\n      <td>{len(minimal_result.liquidations):,}</td>" in text


def test_depth_map_is_forced_sales_over_what_the_pool_absorbs(minimal_result):
    (m,) = depth_maps(minimal_result)
    assert m.protocol == "lend" and m.start == 2000.0
    # the constant-product pool (20,000 ETH, fee 0.3 %) takes x (1/sqrt(1-f) - 1) / (1-fee) ETH to fall by f
    fall = 1.0 - m.price / m.start
    np.testing.assert_allclose(m.absorbed, 20_000 * (1 / np.sqrt(1 - fall) - 1) / 0.997, rtol=1e-12)
    book = minimal_result.positions.query("snapshot == 'initial'")
    k = 40
    hit = book["liquidation_price"] >= m.price[k]
    expected = np.minimum(0.5 * 1.05 * book.loc[hit, "debt"] / m.price[k], book.loc[hit, "collateral"]).sum()
    assert m.sold[k] == pytest.approx(expected, rel=1e-12) and m.sold[k] > 0
    one = int(np.argmin(np.abs(m.scales - 1.0)))
    assert m.ratio[one, k] == pytest.approx(m.sold[k] / m.absorbed[k])
    assert m.ratio[0, k] == pytest.approx(8 * m.ratio[one, k])      # an eighth of the depth: 8x the pressure
    assert m.lowest_fall == pytest.approx(minimal_result.summary()["drop.pool.uni_eth_usdc"])


# -------------------------------------------------------------------------------------- sweep
def test_sweep_report_has_curves_points_and_failures(sweep_folder):
    out, table = sweep_folder
    written = write_sweep_report(out)
    assert [p.name for p in written] == ["response_0.png", "response_1.png", "report.html"]
    page = _page(out / "report.html")
    assert page.headings == ["minimal: sweep report", "Sweep", "Parameter points", "Failures", "Response curves"]
    assert len(_embedded_pngs(page)) == 2
    text = (out / "report.html").read_text()
    assert "ScenarioError in 6 run(s) (run_id 3, 4, 5, 9, 10 and 1 more)" in text
    assert "Traceback (most recent call last):" in text


def test_point_table_is_mean_and_confidence_half_width(sweep_folder):
    _, table = sweep_folder
    parameters = ["pools.uni_eth_usdc.fee", "venues.cex_eth_usd.path.path"]
    points = point_table(table, parameters, ["liquidated_debt_usd"])
    assert len(points) == 4 and points["runs ok"].tolist() == [3, 0, 3, 0]
    assert points["failed"].tolist() == [0, 3, 0, 3]
    assert points["pools.uni_eth_usdc.fee"].tolist() == [0.003, 0.003, 0.03, 0.03]
    first = table[table["point"] == 0]["liquidated_debt_usd"]
    half = 4.303 * first.std() / math.sqrt(3)
    assert points["liquidated_debt_usd"].iloc[0] == f"{first.mean():,.4g} ± {half:,.2g}"
    assert points["liquidated_debt_usd"].iloc[1] == "n/a"


def test_axis_positions_and_t_quantiles():
    x, unit, labels = numeric_axis(pd.Series(["10min", "1h", "10min"]))
    assert x.tolist() == [600.0, 3600.0, 600.0] and unit == "s" and labels is None
    x, unit, labels = numeric_axis(pd.Series(["b", "a", "b"]))
    assert x.tolist() == [0.0, 1.0, 0.0] and labels == ["b", "a"]
    assert numeric_axis(pd.Series([0.1, 0.2]))[0].tolist() == [0.1, 0.2]
    assert t_quantile(1) == 12.706 and t_quantile(2) == 4.303 and t_quantile(29) == 2.045 and t_quantile(100) == 1.96


def test_monte_carlo_sweep_report_shows_distributions(tmp_path):
    net = contagion.Network.from_dict(small_scenario(), source="small.yaml")
    contagion.sweep(net, seeds=4, executor="serial", out=tmp_path)
    written = write_folder_report(tmp_path)
    assert [p.name for p in written] == ["distributions.png", "report.html"]
    assert _embedded_pngs(_page(tmp_path / "report.html"))[0][:8] == PNG


def test_folder_report_of_an_interrupted_sweep(tmp_path):
    net = contagion.Network.from_dict(small_scenario(), source="small.yaml")

    def stop(record):
        if record.done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        contagion.sweep(net, grid={"pools.uni_eth_usdc.fee": [0.003, 0.01]}, seeds=2, executor="serial",
                        out=tmp_path, on_run=stop)
    write_folder_report(tmp_path)
    text = (tmp_path / "report.html").read_text()
    assert "2 of 4 runs finished (running)" in text and "2 planned runs have not finished" in text


def test_folder_report_of_something_else(tmp_path):
    with pytest.raises(ResultError, match="not a saved run or sweep"):
        write_folder_report(tmp_path)


# ------------------------------------------------------------------------------------ browser
def _browser():
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    pytest.skip(f"no headless browser on PATH (looked for {', '.join(BROWSERS)}); "
                "on Debian: apt-get install chromium")


_PROBE = """<script>
window.addEventListener("load", function () {
  var images = Array.prototype.slice.call(document.images);
  var decoded = images.filter(function (i) { return i.complete && i.naturalWidth > 0; });
  var widths = decoded.map(function (i) { return i.naturalWidth; }).join(",");
  document.title = "PROBE images=" + decoded.length + "/" + images.length + " tables=" +
    document.querySelectorAll("table").length + " widths=" + widths + " height=" + document.body.scrollHeight;
});
</script></body>"""


def _render(browser, page, tmp_path):
    probe = tmp_path / f"probe-{page.parent.name}.html"
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", _PROBE), encoding="utf-8")
    proc = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=10000", "--dump-dom",
                           probe.as_uri()], capture_output=True, text=True, timeout=180)
    title = re.search(r"<title>(PROBE[^<]*)</title>", proc.stdout)
    assert title, (proc.returncode, proc.stderr[-2000:])
    fields = dict(item.split("=", 1) for item in title.group(1).split()[1:])
    return fields


def test_report_pages_render_in_a_real_browser(run_report, sweep_folder, tmp_path):
    browser = _browser()
    folder, _ = run_report
    run = _render(browser, folder / "report.html", tmp_path)
    assert run["images"] == f"{len(RUN_FIGURES)}/{len(RUN_FIGURES)}"       # every embedded PNG decoded
    assert all(int(w) > 800 for w in run["widths"].split(","))
    assert int(run["tables"]) == 3 and int(run["height"]) > 3000
    out, _ = sweep_folder
    write_sweep_report(out)
    sweep = _render(browser, out / "report.html", tmp_path)
    assert sweep["images"] == "2/2" and int(sweep["tables"]) == 3
