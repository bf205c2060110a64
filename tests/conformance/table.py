"""The README's conformance table, made from the suite itself: `python -m tests.conformance.table`."""

from __future__ import annotations

from tests.conformance.cases import SKIPPED, UPSTREAM
from tests.conformance.filters import FILTERS
from tests.conformance.matching import MATCHING
from tests.conformance.references import REFERENCES

CASES = MATCHING + REFERENCES + FILTERS


def readme_table() -> str:
    """The README's table: each upstream test, translated (its pairs) or skipped (why)."""
    by_name = {c.name: c for c in CASES}
    lines = ["| upstream test | since | embedded engine |", "|---|---|---|"]
    for name, since in sorted(UPSTREAM.items()):
        case = by_name.get(name)
        if case is None:
            lines.append(f"| {name} | {since} | skipped: {SKIPPED[name]} |")
            continue
        pairs = [p for s in case.steps for p in s.pairs]
        samples = [x for s in case.steps for x in s.samples]
        checks = sum(len(s.conditions) + len(s.attached) for s in case.steps)
        v040 = sum(1 for p in pairs if p.v040)
        detail = (
            f"{len(pairs)}/{len(pairs)} pairs, {checks} status check(s)"
            if pairs
            else f"status only: {checks} check(s)"
        )
        if samples:
            detail = f"{len(samples)} weighted sample(s) of {sum(x.requests for x in samples)} requests, " + (
                detail if pairs else f"{checks} status check(s)"
            )
        if v040:
            detail += f"; {v040} pair(s) follow v0.4.0 where upstream differs"
        if case.note:
            detail += f"; {case.note}"
        lines.append(f"| {name} | {since} | translated: {detail} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(readme_table(), end="")
