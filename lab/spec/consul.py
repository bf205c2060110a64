"""What the Consul API Gateway 0.1.0 does with route weights, so the plan can refuse what it would.

The gateway turns a rule's backends into a Consul service-splitter with float32 percentages
`w / sum * 100` (weight-0 backends left out); Consul rejects a splitter whose weights, rounded to
two decimals, do not add up to exactly 100.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence


def _f32(x: float) -> float:
    """Round to IEEE float32, like Go's float32 arithmetic."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def splitter_percentages(weights: Sequence[int]) -> list[float]:
    """The float32 percentages the API gateway writes for the non-zero weights, in order."""
    total = _f32(float(sum(w for w in weights if w > 0)))
    return [_f32(_f32(_f32(float(w)) / total) * _f32(100.0)) for w in weights if w > 0]


def _scaled(percent: float) -> int:
    # Consul scales to hundredths of a percent and rounds half away from zero (Go math.Round).
    return math.floor(_f32(percent * 100.0) + 0.5)


def splitter_sum(weights: Sequence[int]) -> float:
    """The sum Consul computes after rounding each share to two decimals, in percent."""
    return sum(_scaled(p) for p in splitter_percentages(weights)) / 100


def accepted(weights: Sequence[int]) -> bool:
    """True when Consul would accept the splitter (one backend needs no splitter)."""
    if sum(1 for w in weights if w > 0) < 2:
        return True
    return sum(_scaled(p) for p in splitter_percentages(weights)) == 10000


def suggest(weights: Sequence[int]) -> list[int]:
    """Whole-percent weights close to `weights` that Consul accepts (largest remainder method)."""
    total = sum(w for w in weights if w > 0)
    exact = [w * 100 / total if w > 0 else 0.0 for w in weights]
    out = [max(1, math.floor(x)) if w > 0 else 0 for w, x in zip(weights, exact, strict=True)]
    order = sorted(range(len(weights)), key=lambda i: exact[i] - math.floor(exact[i]), reverse=True)
    i = 0
    while sum(out) < 100:
        j = order[i % len(order)]
        if weights[j] > 0:
            out[j] += 1
        i += 1
    while sum(out) > 100:
        j = max(range(len(out)), key=lambda k: out[k])
        out[j] -= 1
    return out
