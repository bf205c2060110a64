"""Pictures of a check (`--plot FILE.png|svg`, needs matplotlib): how far off, and how it was reached.

Per backend, observed minus expected share in percentage points, with its interval and the band of
shares the test accepts, so a 1% canary is as legible as its 99% partner. For sequential and
multi-step checks, also each backend's running share against the responses so far, inside the
acceptance band as it narrows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from lab.errors import EnvironmentNotReady, InvalidInput
from lab.stats.acceptance import acceptance_region
from lab.stats.formats import format_level, format_share
from lab.stats.verdict import BackendResult, Verdict
from lab.traffic.check import CheckResult, TrafficCheck

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install 'gateway-api-lab[plot]' (or pip install matplotlib)"
SUFFIXES = (".png", ".svg")
_COLOR = {True: "#2e7d32", False: "#c62828"}  # inside the band / outside
_BAND = "#90caf9"


def require(path: Path) -> None:
    """Fail before any traffic is sent when the picture could not be drawn: suffix, folder, matplotlib."""
    if path.suffix.lower() not in SUFFIXES:
        raise InvalidInput(f"--plot {path}: the file must end in .png or .svg")
    if not path.parent.resolve().is_dir():
        raise InvalidInput(f"--plot {path}: folder {path.parent} does not exist", fix="create it, or pick another")
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise EnvironmentNotReady("--plot needs matplotlib, which is not installed", fix=INSTALL_HINT) from exc


def band(backend: BackendResult, n: int, alpha: float, weighted: int) -> tuple[float, float]:
    """The shares of `n` responses the check accepts for this backend (as fractions).

    Weight 0 (or not expected): exactly 0, any hit fails. The only weighted backend: exactly 1. Two
    weighted backends: the exact binomial test's acceptance region. Three or more: the same region
    per backend, a guide only (the verdict's test is joint over all backends).
    """
    if not backend.weight:
        return 0.0, 0.0
    if weighted == 1:
        return 1.0, 1.0
    if n == 0:
        return 0.0, 1.0
    lo, hi = acceptance_region(n, backend.expected_share, alpha)
    return lo / n, hi / n


def sequential_bands(verdict: Verdict, backend: BackendResult, ns: Sequence[int]) -> list[tuple[float, float]]:
    """For a sequential verdict, the shares at each n that keep the check going; else empty.

    They lie between the design's fail boundaries, recomputed from what the verdict carries.
    """
    design = verdict.sequential or {}
    if "fail_threshold" not in design or not ns or not backend.weight:
        return []
    from lab.stats.sequential import boundaries

    bounds = boundaries(
        design["share"], design["below"], design["above"], design["fail_threshold"], design["pass_threshold"], max(ns)
    )
    out = []
    for n in ns:
        fail_below, fail_above, _, _ = bounds.at(n)
        lo, hi = max(0.0, (fail_below + 1) / n), min(1.0, (fail_above - 1) / n)
        out.append((lo, hi) if backend.name == design["canary"] else (1 - hi, 1 - lo))
    return out


def _weighted(verdict: Verdict) -> tuple[int, int]:
    """Number of backends with weight above 0, and the responses they got (the test's n)."""
    positive = [b for b in verdict.backends if b.weight]
    return len(positive), sum(b.hits for b in positive)


def _deviation_view(ax: Axes, check: TrafficCheck) -> None:
    """One row per backend: observed minus expected share (points), interval whiskers, accepted band."""
    verdict = check.verdict
    weighted, n_test = _weighted(verdict)
    rows = list(reversed(verdict.backends))
    reach = 0.5
    for y, b in enumerate(rows):
        e = b.expected_share
        lo, hi = band(b, n_test, verdict.alpha, weighted)
        if hi > lo:
            ax.barh(y, (hi - lo) * 100, left=(lo - e) * 100, height=0.5, color=_BAND, alpha=0.6)
        else:  # exactly one share is accepted (weight 0, or the only weighted backend): a thick tick
            ax.plot([(lo - e) * 100] * 2, [y - 0.25, y + 0.25], color=_BAND, lw=6, solid_capstyle="butt")
        if verdict.n == 0:
            ax.text(0, y, "no responses", ha="center", va="center")
            continue
        dev = (b.observed_share - e) * 100
        low, high = ((x - e) * 100 for x in b.interval)
        inside = lo - 1e-12 <= b.observed_share <= hi + 1e-12
        ax.errorbar(dev, y, xerr=[[dev - low], [high - dev]], fmt="o", color=_COLOR[inside], capsize=5, lw=2)
        ax.annotate(
            f"{dev:+.2f} pts: {format_share(b.observed_share)} vs {format_share(e)} ({b.hits} of {verdict.n})",
            (dev, y),
            xytext=(0, 11),
            textcoords="offset points",
            ha="center",
            fontsize="small",
            color=_COLOR[inside],
        ).set_in_layout(False)
        reach = max(reach, abs(low), abs(high), abs(lo - e) * 100, abs(hi - e) * 100)
    ax.axvline(0, color="#555555", lw=1)
    ax.set_xlim(-1.3 * reach, 1.3 * reach)
    ax.set_ylim(-0.6, len(rows) - 0.2)
    ax.set_yticks(range(len(rows)), [_label(b) for b in rows])
    ax.set_xlabel("observed - expected share (percentage points)")
    p = "" if verdict.p_value is None else f", p = {verdict.p_value:.2g}"
    ax.set_title(f"{check.name} {_path(check.url)}: {verdict.outcome.value.upper()} (n = {verdict.n}{p})")
    if weighted >= 3:
        ax.text(0.01, 0.01, "bands per backend; the verdict's test is joint", transform=ax.transAxes, fontsize=7)


def _label(b: BackendResult) -> str:
    weight = "not expected" if b.weight is None else f"weight {b.weight}"
    return f"{b.name}\n{weight}, {format_share(b.expected_share)}"


def _path(url: str) -> str:
    return "/" + url.split("://", 1)[-1].split("/", 1)[-1]


def _running_view(ax: Axes, check: TrafficCheck, backend: BackendResult) -> None:
    """A backend's running share against the responses so far, inside the narrowing accepted band."""
    verdict = check.verdict
    weighted, _ = _weighted(verdict)
    points = _until_verdict(check)
    ns = [sum(p.values()) for p in points]
    shares = [100 * p.get(backend.name, 0) / n for p, n in zip(points, ns, strict=True)]
    bands = sequential_bands(verdict, backend, ns) or [band(backend, n, verdict.alpha, weighted) for n in ns]
    ax.fill_between(ns, [100 * lo for lo, _ in bands], [100 * hi for _, hi in bands], color=_BAND, alpha=0.5)
    ax.axhline(100 * backend.expected_share, color="#555555", ls="--", lw=1)
    inside = not bands or bands[-1][0] - 1e-12 <= shares[-1] / 100 <= bands[-1][1] + 1e-12
    ax.plot(ns, shares, color=_COLOR[inside], lw=1.5)
    if ns:
        low, high = _share_limits(backend.expected_share, shares[-1] / 100, bands[-1])
        above = shares[-1] < (low + high) / 2  # the label goes where there is room inside the axes
        ax.annotate(f"{shares[-1]:.2f}% at n = {ns[-1]}", (ns[-1], shares[-1]), xytext=(-4, 6 if above else -6),
                    textcoords="offset points", ha="right", va="bottom" if above else "top", fontsize="small",
                    color=_COLOR[inside]).set_in_layout(False)  # fmt: skip
        ax.set_ylim(low, high)
    ax.set_xlim(0, max(ns, default=1))
    ax.set_ylabel(f"{backend.name} share (%)")
    ax.set_xlabel("responses so far")


def _until_verdict(check: TrafficCheck) -> list[dict[str, int]]:
    """The running counts up to the verdict's n, ending with its counts.

    Answers in flight when a sequential check stopped are counted by the driver but not judged.
    """
    n = check.verdict.n
    if not n:
        return []
    before = [dict(p) for p in check.stats.running if 0 < sum(p.values()) < n]
    return [*before, {b.name: b.hits for b in check.verdict.backends}]


def _share_limits(expected: float, final: float, last_band: tuple[float, float]) -> tuple[float, float]:
    """Y limits (percent) that show the final band three times over, the final share and the expected one."""
    half = max(last_band[1] - expected, expected - last_band[0], abs(final - expected), 0.005)
    lo, hi = max(0.0, 100 * (expected - 3 * half)), min(100.0, 100 * (expected + 3 * half))
    pad = 0.04 * (hi - lo)  # a share of exactly 0% or 100% stays visible above the frame
    return lo - pad, hi + pad


def figure(result: CheckResult, running: bool) -> Figure:
    """The picture of a check: a deviation view per traffic class, and the running shares below."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    checks = result.checks
    rows = max((len(c.verdict.backends) for c in checks), default=0) if running else 0
    heights = [1.2 + 0.9 * max((len(c.verdict.backends) for c in checks), default=1)] + [2.2] * rows
    fig, axes = plt.subplots(
        1 + rows, max(1, len(checks)), figsize=(7.5 * max(1, len(checks)), sum(heights) + 1.2),
        squeeze=False, gridspec_kw={"height_ratios": heights}, layout="constrained",
    )  # fmt: skip
    for column, check in enumerate(checks):
        _deviation_view(axes[0][column], check)
        for row in range(rows):
            if row < len(check.verdict.backends):
                _running_view(axes[1 + row][column], check, check.verdict.backends[row])
            else:
                axes[1 + row][column].set_visible(False)
    level = format_level(1 - checks[0].verdict.alpha) if checks else ""
    title = result.scenario + (f" / {result.step}" if result.step != result.scenario else "")
    fig.suptitle(f"{title}: {result.outcome.value.upper()} ({result.engine} engine)")
    sequential = " at the stop; running: where the sequential check goes on" if any(
        c.verdict.sequential and "fail_threshold" in c.verdict.sequential for c in checks
    ) and running else ""
    alpha = f"alpha {checks[0].verdict.alpha:g}{sequential}" if checks else ""
    fig.legend(
        handles=[
            Patch(color=_BAND, alpha=0.6, label=f"shares the test accepts ({alpha})"),
            Line2D([], [], color=_COLOR[True], marker="o", label=f"observed, {level} interval"),
            Line2D([], [], color=_COLOR[False], marker="o", label="outside the band"),
        ],
        loc="outside lower center", ncol=1 if sequential else 3, frameon=False, fontsize="small",
    )  # fmt: skip
    return fig


def plot_check(result: CheckResult, path: Path, *, running: bool = False) -> Path:
    """Draw the check to `path` (PNG or SVG); `require(path)` should have been called before traffic."""
    import matplotlib.pyplot as plt

    require(path)
    fig = figure(result, running)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def step_path(path: Path, step: str, steps: Sequence[str]) -> Path:
    """One picture per step of a multi-step run: FILE-STEP.png; a single step keeps FILE.png."""
    return path if len(steps) <= 1 else path.with_name(f"{path.stem}-{step}{path.suffix}")

