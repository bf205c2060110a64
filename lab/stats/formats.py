"""How shares and levels are written in verdicts, power sentences and tables: one place for all."""

from __future__ import annotations

import math


def format_share(share: float) -> str:
    """A share as a percentage: one decimal from 1% up, two significant digits below."""
    percent = share * 100
    if percent == 0 or percent >= 1:
        return f"{percent:.1f}%"
    digits = 1 - math.floor(math.log10(percent))
    return f"{percent:.{digits}f}%"


def format_share_near(share: float, reference: float) -> str:
    """A share with enough decimals that its distance from `reference` shows (two digits of it).

    49.9922% next to 50%, where `format_share` would print 50.0% for both.
    """
    percent, distance = share * 100, abs(share - reference) * 100
    digits = 1 if percent == 0 or percent >= 1 else 1 - math.floor(math.log10(percent))
    if distance > 0:
        digits = max(digits, 1 - math.floor(math.log10(distance)))
    return f"{percent:.{digits}f}%"


def format_level(probability: float) -> str:
    """A confidence or power level as a short percentage: 0.999 -> '99.9%', 0.95 -> '95%'."""
    return f"{probability * 100:.10g}%"
