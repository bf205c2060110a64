"""lab.stats.memo: the `lab` command remembers sample sizes and sequential designs across runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.stats import memo, power, sequential


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[Path]:
    memo.enable(tmp_path / "stats")
    power._required_sample_size.cache_clear()
    yield tmp_path / "stats"
    memo.enable(None)
    power._required_sample_size.cache_clear()


def test_a_computation_is_made_once_and_read_back(folder: Path) -> None:
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return 757

    assert memo.remembered("x", (1, 0.5), compute, int, int) == 757
    assert memo.remembered("x", (1, 0.5), compute, int, int) == 757
    assert calls == [1]
    assert memo.remembered("x", (2, 0.5), compute, int, int) == 757 and calls == [1, 1]  # another key


def test_an_unreadable_entry_is_computed_again(folder: Path) -> None:
    memo.remembered("x", (1,), lambda: 5, int, int)
    (entry,) = folder.iterdir()
    entry.write_text('"not a number')
    assert memo.remembered("x", (1,), lambda: 6, int, int) == 6
    assert entry.read_text() == "6"


def test_off_computes_every_time() -> None:
    memo.enable(None)
    values = iter([1, 2])
    assert memo.remembered("x", (1,), lambda: next(values), int, int) == 1
    assert memo.remembered("x", (1,), lambda: next(values), int, int) == 2


def test_the_folder_follows_the_environment(tmp_path: Path) -> None:
    assert memo.default_folder({"LAB_STATS_CACHE": "off"}) is None
    assert memo.default_folder({"LAB_STATS_CACHE": str(tmp_path)}) == tmp_path
    assert memo.default_folder({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "lab" / "stats"


def test_a_remembered_design_and_sample_size_equal_the_computed_ones(folder: Path) -> None:
    args = (0.01, 0.03, 0.95, 0.001)
    computed = sequential.compute_plan(*args, fixed_n=757, min_pass_n=1)
    first = sequential.plan(*args, fixed_n=757, min_pass_n=1)
    again = sequential.plan(*args, fixed_n=757, min_pass_n=1)  # read from the file
    assert first == computed == again
    assert len(list(folder.glob("sequential-design-*.json"))) == 1
    assert power.required_sample_size({"a": 99, "b": 1}) == 757
    power._required_sample_size.cache_clear()
    assert power.required_sample_size({"a": 99, "b": 1}) == 757
    assert len(list(folder.glob("sample-size-*.json"))) == 1


def test_entries_name_the_code_they_came_from(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    memo.remembered("x", (1,), lambda: 1, int, int)
    monkeypatch.setattr(memo, "code_version", lambda: "other code")
    assert memo.remembered("x", (1,), lambda: 2, int, int) == 2  # never the other code's entry
