"""The pictures (`--plot`): a 1% canary's deviation at a readable scale with its numbers, the band the
test accepts, the running shares of a sequential check; matplotlib checked before any traffic."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path

import pytest

from lab.errors import EnvironmentNotReady, InvalidInput
from lab.stats.acceptance import acceptance_region
from lab.stats.sequential_check import SequentialCheck
from lab.stats.verdict import judge
from lab.traffic.check import CheckResult, TrafficCheck, TrafficStats
from lab.ui import pictures

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.collections import LineCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

CANARY = {"echo-1": 99, "echo-2": 1}


def stats(running: list[Mapping[str, int]]) -> TrafficStats:
    last = dict(running[-1])
    n = sum(last.values())
    return TrafficStats(n, n, last, {}, {}, {200: n}, 1.0, float(n), None, None, None, False, tuple(running))


def canary_check(hits: Mapping[str, int], alpha: float = 0.001) -> TrafficCheck:
    running = [{k: v * i // 50 for k, v in hits.items()} for i in range(1, 51)]
    verdict = judge(CANARY, hits, alpha=alpha)
    return TrafficCheck("default", "https://localhost:8443/echo", {}, CANARY, stats(running), verdict)


def sequential_check(order: list[str]) -> TrafficCheck:
    """A sequential check fed the answers in `order`, with running counts every 10 answers."""
    check = SequentialCheck(CANARY, detect=0.03)
    running: list[dict[str, int]] = []
    for backend in order:
        if check.record(backend):
            break
        if check.answered % 10 == 0:
            running.append(dict(check.hits))
    running.append(dict(check.hits))
    return TrafficCheck("default", "https://localhost:8443/echo", {}, CANARY, stats(running), check.verdict())


@pytest.fixture
def figures() -> Iterator[list[Figure]]:
    made: list[Figure] = []
    yield made
    import matplotlib.pyplot as plt

    for fig in made:
        plt.close(fig)


def texts(fig: Figure) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def test_the_1_percent_canary_is_drawn_at_a_readable_scale_with_its_numbers(figures: list[Figure]) -> None:
    result = CheckResult("canary-99-1", "canary-99-1", "local", (canary_check({"echo-1": 751, "echo-2": 6}),))
    fig = pictures.figure(result, running=False)
    figures.append(fig)
    (ax,) = fig.axes
    # rows: echo-2 at y=0 (bottom), echo-1 at y=1; labels name weight and expected share
    assert [t.get_text() for t in ax.get_yticklabels()] == ["echo-2\nweight 1, 1.0%", "echo-1\nweight 99, 99.0%"]
    assert ax.get_xlabel() == "observed - expected share (percentage points)"
    low, high = ax.get_xlim()
    assert -5 < low < -1 and 1 < high < 5  # points, not a 0..1 share axis where 1% vanishes
    assert "-0.21 pts: 0.79% vs 1.0% (6 of 757)" in texts(fig)
    assert "+0.21 pts: 99.2% vs 99.0% (751 of 757)" in texts(fig)
    # echo-2's mark and its interval whiskers, in points from its expected 1%
    verdict = result.checks[0].verdict
    lo, hi = verdict.backend("echo-2").interval
    marks = [line for line in ax.lines if line.get_marker() == "o"]
    assert [(round(x, 3), y) for line in marks for x, y in zip(*line.get_data(), strict=True)] == [
        (round(100 * (6 / 757 - 0.01), 3), 0),
        (round(100 * (751 / 757 - 0.99), 3), 1),
    ]
    (whiskers, *_) = [c for c in ax.collections if isinstance(c, LineCollection)]
    (x0, _), (x1, _) = whiskers.get_segments()[0]
    assert (x0, x1) == pytest.approx((100 * (lo - 0.01), 100 * (hi - 0.01)))
    # the band: the canary hit counts the exact binomial test accepts at n = 757
    accepted_lo, accepted_hi = acceptance_region(757, 0.01, 0.001)
    bands = sorted((r for r in ax.patches if isinstance(r, Rectangle)), key=lambda r: r.get_y())
    assert bands[0].get_x() == pytest.approx(100 * (accepted_lo / 757 - 0.01))
    assert bands[0].get_width() == pytest.approx(100 * (accepted_hi - accepted_lo) / 757)
    assert ax.get_title() == "default /echo: PASS (n = 757, p = 0.71)"
    assert ax.get_legend() is None  # the legend sits under the axes, never over a whisker
    assert fig.legends


def test_a_split_outside_the_band_is_drawn_red(figures: list[Figure]) -> None:
    result = CheckResult("canary-99-1", "canary-99-1", "local", (canary_check({"echo-1": 682, "echo-2": 75}),))
    fig = pictures.figure(result, running=False)
    figures.append(fig)
    marks = [line for line in fig.axes[0].lines if line.get_marker() == "o"]
    assert {line.get_color() for line in marks} == {"#c62828"}
    assert fig.axes[0].get_title().startswith("default /echo: FAIL")


def test_sequential_checks_show_the_running_share_inside_the_narrowing_band(figures: list[Figure]) -> None:
    # one canary answer in a hundred, in order: the sequential check passes before its maximum n
    check = sequential_check((["echo-1"] * 99 + ["echo-2"]) * 20)
    assert check.verdict.sequential is not None and check.verdict.sequential["stop"] == "pass boundary"
    stopped = check.verdict.n
    fig = pictures.figure(CheckResult("canary-99-1", "canary-99-1", "local", (check,)), running=True)
    figures.append(fig)
    _deviation, echo1, echo2 = fig.axes
    assert echo1.get_ylabel() == "echo-1 share (%)"
    assert echo2.get_ylabel() == "echo-2 share (%)" and echo2.get_xlabel() == "responses so far"
    (fill,) = echo2.collections
    paths = fill.get_paths()[0].vertices
    widths = {}  # band width (points) at each n, from the filled polygon's upper and lower edges
    for x, y in paths:
        widths.setdefault(round(x), []).append(y)
    spans = [max(v) - min(v) for _, v in sorted(widths.items())]
    assert spans[0] > 2 * spans[-1]  # the band narrows as responses come in
    # the band is the sequential design's: at the stop, exactly the canary counts that keep it going
    bands = pictures.sequential_bands(check.verdict, check.verdict.backends[1], [stopped])
    design = check.verdict.sequential
    from lab.stats.sequential import boundaries

    fail_below, fail_above, _, _ = boundaries(
        design["share"], design["below"], design["above"], design["fail_threshold"], design["pass_threshold"], stopped
    ).at(stopped)
    assert bands == [((fail_below + 1) / stopped, (fail_above - 1) / stopped)]
    (line,) = [li for li in echo2.lines if li.get_linestyle() == "-" and len(li.get_xdata()) > 2]
    assert list(line.get_xdata())[-1] == stopped
    assert list(line.get_ydata())[-1] == pytest.approx(100 * check.verdict.backends[1].hits / stopped)
    low, high = echo2.get_ylim()
    assert low < 1 < high < 25  # the 1% canary's own scale, not 0..100
    assert "where the sequential check goes on" in fig.legends[0].get_texts()[0].get_text()


def test_the_running_share_ends_where_the_sequential_check_stopped(figures: list[Figure]) -> None:
    # answers in flight when the check stopped are counted by the driver (stats.running goes on),
    # but the picture of how the verdict was reached ends at the verdict's n, with its numbers
    check = sequential_check((["echo-1"] * 99 + ["echo-2"]) * 20)
    stopped, canary = check.verdict.n, check.verdict.backend("echo-2").hits
    after = [{"echo-1": p["echo-1"] + 15, "echo-2": p.get("echo-2", 0)} for p in check.stats.running[-1:]]
    check = replace(check, stats=replace(check.stats, running=(*check.stats.running, *after)))
    fig = pictures.figure(CheckResult("canary-99-1", "canary-99-1", "local", (check,)), running=True)
    figures.append(fig)
    _deviation, _echo1, echo2 = fig.axes
    (line,) = [li for li in echo2.lines if li.get_linestyle() == "-" and len(li.get_xdata()) > 2]
    assert list(line.get_xdata())[-1] == stopped
    assert list(line.get_ydata())[-1] == pytest.approx(100 * canary / stopped)
    assert echo2.get_xlim()[1] == stopped
    assert [t.get_text() for t in echo2.texts] == [f"{100 * canary / stopped:.2f}% at n = {stopped}"]


def test_the_running_share_label_stays_inside_the_axes(figures: list[Figure]) -> None:
    # echo-1 ends near the top of its axis (99.3%), echo-2 near the bottom (0.69%)
    check = sequential_check((["echo-1"] * 99 + ["echo-2"]) * 20)
    fig = pictures.figure(CheckResult("canary-99-1", "canary-99-1", "local", (check,)), running=True)
    figures.append(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    for ax in fig.axes[1:]:
        (label,) = ax.texts
        box, frame = label.get_window_extent(renderer), ax.get_window_extent(renderer)
        assert frame.y0 <= box.y0 and box.y1 <= frame.y1, (label.get_text(), box, frame)


@pytest.mark.parametrize("sequential", [False, True])
def test_the_legend_fits_in_the_picture(figures: list[Figure], sequential: bool) -> None:
    if sequential:
        check = sequential_check((["echo-1"] * 99 + ["echo-2"]) * 20)
    else:
        check = canary_check({"echo-1": 751, "echo-2": 6})
    fig = pictures.figure(CheckResult("canary-99-1", "canary-99-1", "local", (check,)), running=sequential)
    figures.append(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    (legend,) = fig.legends
    box, frame = legend.get_window_extent(renderer), fig.bbox
    assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0, (box, frame)
    labels = [t.get_text() for t in legend.get_texts()]
    assert labels[1:] == ["observed, 99.9% interval", "outside the band"]


def test_a_missing_matplotlib_is_reported_before_any_traffic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(EnvironmentNotReady) as info:
        pictures.require(tmp_path / "split.png")
    assert "pip install 'gateway-api-lab[plot]'" in str(info.value)


def test_the_file_must_be_png_or_svg_in_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"\.png or \.svg"):
        pictures.require(tmp_path / "split.pdf")
    with pytest.raises(InvalidInput, match="does not exist"):
        pictures.require(tmp_path / "nowhere" / "split.png")
    pictures.require(tmp_path / "split.svg")


def test_multi_step_runs_write_one_picture_per_step(tmp_path: Path) -> None:
    assert pictures.step_path(tmp_path / "a.png", "blue", ["blue", "green"]) == tmp_path / "a-blue.png"
    assert pictures.step_path(tmp_path / "a.png", "only", ["only"]) == tmp_path / "a.png"


def test_the_readme_shows_pictures_that_exist() -> None:
    root = Path(__file__).resolve().parent.parent
    linked = re.findall(r"\]\((docs/[\w.-]+\.png)\)", (root / "README.md").read_text())
    assert "docs/canary-99-1.png" in linked and "docs/canary-99-1-sequential.png" in linked
    for name in linked:
        assert (root / name).read_bytes().startswith(b"\x89PNG"), name
