"""The converge probe: consecutive 2xx from the backends the routes now send to, or exit 5."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from lab.errors import NotConverged
from lab.spec.plan import make_plan
from lab.spec.registry import LabDir
from lab.timeouts import Timeouts
from lab.traffic.attribution import Attributor
from lab.traffic.converge import probe_for, wait_until_serving
from tests.conftest import LabCopy

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Answer:
    status_code: int
    content: bytes


class Scripted:
    """A requests.Session stand-in answering from a script, then repeating the last answer."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.calls = 0

    def request(self, *args: object, **kwargs: object) -> Answer:
        self.calls += 1
        return self.answers[min(self.calls, len(self.answers)) - 1]


def pod(name: str) -> Answer:
    return Answer(200, f"\n\nHostname: {name}\n".encode())


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def green_probe():  # type: ignore[no-untyped-def]
    plan = make_plan(LabDir(ROOT), "blue-green")
    green = plan.steps[1]
    return probe_for(
        green.traffic[0], "https://localhost:8443/echo", "ca.pem", Attributor.from_resources(green.resources)
    )


TIMEOUTS = Timeouts(converge=10.0, converge_successes=3, poll_interval=0.5)


def test_answers_from_the_idle_side_are_stale_until_the_flip_is_live() -> None:
    probe = green_probe()
    assert probe.live == frozenset({"echo-2"})
    clock = Clock()
    session = Scripted([pod("echo-1-abcdefghij-abcde")] * 4 + [pod("echo-2-abcdefghij-abcde")])
    attempts = wait_until_serving(probe, TIMEOUTS, sleep=clock.sleep, clock=clock, session=session)  # type: ignore[arg-type]
    assert attempts == 4 + 3


def test_never_live_is_not_converged_naming_what_was_seen() -> None:
    clock = Clock()
    session = Scripted([Answer(503, b"no healthy upstream"), pod("echo-1-abcdefghij-abcde")])
    with pytest.raises(NotConverged) as info:
        wait_until_serving(green_probe(), TIMEOUTS, sleep=clock.sleep, clock=clock, session=session)  # type: ignore[arg-type]
    message = str(info.value)
    assert "from echo-2" in message
    assert "HTTP 503 x1" in message and "stale answer from echo-1" in message


def test_unattributable_answers_count_as_served() -> None:
    clock = Clock()
    probe = replace(green_probe(), live=frozenset({"frontend"}))
    session = Scripted([Answer(200, b"<html>HashiCups</html>")])
    assert wait_until_serving(probe, TIMEOUTS, sleep=clock.sleep, clock=clock, session=session) == 3  # type: ignore[arg-type]


def test_attribution_falls_back_to_the_name_when_the_engine_moved_the_namespace() -> None:
    plan = make_plan(LabDir(ROOT), "canary-99-1")
    attributor = Attributor.from_resources(plan.first.resources)
    assert attributor.service("echo-1-abcdefghij-abcde", "lab") == "echo-1"


def test_a_503_is_the_declared_answer_of_a_dropped_backend_and_does_not_break_the_streak(
    lab_copy: LabCopy,
) -> None:
    """Issue 13: echo-2 renamed to a missing echo-3 at 20/80: 80% of /echo answers 503 by design.

    Five 2xx in a row would take thousands of tries; 503s (only 503s) neither count nor break the
    streak while the plan declares a dropped backend. Without one, a 503 breaks it as before.
    """
    lab_copy.edit("manifests/routes/canary-99-1.yaml", "name: echo-2\n", "name: echo-3\n")
    lab_copy.edit("manifests/routes/canary-99-1.yaml", "weight: 99", "weight: 20")
    lab_copy.edit("manifests/routes/canary-99-1.yaml", "weight: 1\n", "weight: 80\n")
    broken = make_plan(LabDir(lab_copy.root), "canary-99-1").first
    probe = probe_for(broken.traffic[0], "https://localhost:8443/echo", "ca.pem",
                      Attributor.from_resources(broken.resources))
    answers = [pod("echo-1-abcdefghij-abcde"), *[Answer(503, b"")] * 4] * 3 + [Answer(500, b"")]
    clock = Clock()
    assert wait_until_serving(probe, TIMEOUTS, sleep=clock.sleep, clock=clock, session=Scripted(answers)) == 11  # type: ignore[arg-type]
    plain = make_plan(LabDir(ROOT), "canary-99-1").first
    probe_99_1 = probe_for(plain.traffic[0], "https://localhost:8443/echo", "ca.pem",
                           Attributor.from_resources(plain.resources))
    clock = Clock()
    with pytest.raises(NotConverged, match="HTTP 503 x"):
        wait_until_serving(probe_99_1, TIMEOUTS, sleep=clock.sleep, clock=clock, session=Scripted(answers))  # type: ignore[arg-type]
    clock = Clock()
    with pytest.raises(NotConverged, match="HTTP 500 x"):  # any other failure still breaks it
        wait_until_serving(probe, TIMEOUTS, sleep=clock.sleep, clock=clock,
                           session=Scripted([pod("echo-1-abcdefghij-abcde"), Answer(500, b"")]))  # type: ignore[arg-type]
