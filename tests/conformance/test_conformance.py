"""The upstream HTTPRoute conformance tests against the embedded engine: one lab process, every pair.

Each case applies its translated manifests to the running lab (as `lab apply` would), checks the
status conditions its upstream test asserts, then sends every request and compares the response
(status, backend pod and namespace, headers the backend saw, Location) with the expectation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.stats.verdict import judge
from tests.conformance.cases import INFRA, SKIPPED, UPSTREAM, Attached, Case, Cond, Pair, Sample
from tests.conformance.harness import MANIFESTS, SuiteLab
from tests.conformance.table import CASES, readme_table

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture(scope="module")
def suite_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuiteLab]:
    lab = SuiteLab(tmp_path_factory.mktemp("conformance"), sorted(MANIFESTS.glob("*.yaml")))
    yield lab
    lab.stop()


def _find(items: list[dict[str, Any]], kind: str, namespace: str, name: str) -> dict[str, Any]:
    for item in items:
        meta = item["metadata"]
        if item["kind"] == kind and meta["name"] == name and meta.get("namespace", "default") == namespace:
            return item
    raise AssertionError(f"{kind} {namespace}/{name} is not in the lab")


def condition_problems(items: list[dict[str, Any]], cond: Cond) -> list[str]:
    """What is wrong with one route condition, on every parent the controller wrote."""
    route = _find(items, "HTTPRoute", cond.namespace, cond.route)
    parents = route.get("status", {}).get("parents") or []
    if not parents:
        return [f"{cond.route}: no status.parents"]
    out = []
    for parent in parents:
        found = {c["type"]: c for c in parent["conditions"]}.get(cond.type)
        want = (cond.status, cond.reason or (found or {}).get("reason"))
        got = (found["status"], found["reason"]) if found else None
        if got != want:
            out.append(
                f"{cond.route} on {parent['parentRef']['name']}: {cond.type} is {got}, expected {want}"
            )
    return out


def attached_problems(items: list[dict[str, Any]], want: Attached) -> list[str]:
    """What is wrong with a listener's attachedRoutes."""
    gateway = _find(items, "Gateway", "gateway-conformance-infra", want.gateway)
    listeners = {lst["name"]: lst for lst in gateway["status"].get("listeners", [])}
    got = listeners.get(want.listener, {}).get("attachedRoutes")
    return (
        []
        if got == want.routes
        else [f"{want.gateway}/{want.listener}: attachedRoutes {got}, expected {want.routes}"]
    )


def pair_problems(lab: SuiteLab, pair: Pair) -> list[str]:
    """What is wrong with the answer to one request."""
    answer = lab.request(pair.port, pair.path, pair.method, pair.host, pair.headers)
    label = f"{pair.method} {pair.path} (port {pair.port}, host {pair.host}, headers {dict(pair.headers)})"
    if answer.status != pair.status:
        return [f"{label}: status {answer.status}, expected {pair.status}: {answer.body[:200]!r}"]
    out = []
    if pair.location is not None and answer.headers.get("location") != pair.location:
        out.append(f"{label}: Location {answer.headers.get('location')!r}, expected {pair.location!r}")
    if pair.backend is not None:
        echo = answer.echo
        if echo is None or not echo.pod.startswith(pair.backend + "-") or echo.namespace != pair.namespace:
            out.append(f"{label}: answered by {echo and (echo.namespace, echo.pod)}, expected {pair.backend}")
            return out
        path = pair.path
        if echo.path != path:
            out.append(f"{label}: the backend saw path {echo.path!r}")
        for name, value in pair.seen:
            if echo.headers.get(name.lower()) != value:
                out.append(
                    f"{label}: the backend saw {name}: {echo.headers.get(name.lower())!r}, expected {value!r}"
                )
        out += [f"{label}: the backend saw {name}" for name in pair.absent if name.lower() in echo.headers]
    return out


def sample_problems(lab: SuiteLab, sample: Sample) -> list[str]:
    """What is wrong with a weighted sample: failed answers, a wrong header, or a split the test rejects."""
    hits: Counter[str] = Counter()
    out: list[str] = []
    for _ in range(sample.requests):
        answer = lab.request(sample.port, sample.path, "GET", None, ())
        echo = answer.echo
        if answer.status != 200 or echo is None or echo.namespace != INFRA:
            out.append(f"{sample.path}: status {answer.status}: {answer.body[:200]!r}")
            continue
        backend = echo.pod.rsplit("-", 2)[0]
        hits[backend] += 1
        seen = echo.headers.get(sample.header.lower()) if sample.header else backend
        if seen != backend:
            out.append(f"{sample.path}: {echo.pod} saw {sample.header}: {seen!r}")
    if out:
        return out[:5]
    verdict = judge(dict(sample.weights), hits, alpha=0.001)
    return [] if verdict.passed else [f"{sample.path}: {dict(hits)}: {'; '.join(verdict.reasons)}"]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_upstream_case(suite_lab: SuiteLab, case: Case) -> None:
    problems: list[str] = []
    for step in case.steps:
        suite_lab.apply(MANIFESTS / f"{m}.yaml" for m in step.manifests)
        items = suite_lab.objects()
        for cond in step.conditions:
            problems += condition_problems(items, cond)
        for want in step.attached:
            problems += attached_problems(items, want)
        for pair in step.pairs:
            problems += pair_problems(suite_lab, pair)
        for sample in step.samples:
            problems += sample_problems(suite_lab, sample)
    assert not problems, "\n".join(problems)


def test_every_upstream_test_is_translated_or_skipped_with_a_reason() -> None:
    translated = [c.name for c in CASES]
    assert len(set(translated)) == len(translated)
    assert not set(translated) & set(SKIPPED)
    assert sorted(translated + list(SKIPPED)) == sorted(UPSTREAM)
    assert all(SKIPPED.values())


def test_the_readme_table_is_this_suite() -> None:
    assert readme_table() in README.read_text(encoding="utf-8"), (
        "regenerate: python -m tests.conformance.table"
    )
