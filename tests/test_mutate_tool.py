"""`make mutate`'s driver (tools/mutate.py): which modules it picks, the sample it draws, the score."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pytest

from tools import mutate


def test_modules_are_given_as_paths_dotted_names_or_globs() -> None:
    assert mutate.module_paths("lab/spec/routing.py, lab.stats.power  lab/engines/kube/*") == [
        "lab/spec/routing.py",
        "lab/stats/power.py",
        "lab/engines/kube/*",
    ]
    assert mutate.module_paths("") == []


def test_only_code_modules_of_the_package_are_mutated() -> None:
    assert mutate.is_module("lab/spec/routing.py")
    assert not mutate.is_module("lab/spec/__init__.py")
    assert not mutate.is_module("tests/test_routing.py")
    assert not mutate.is_module("lab/spec/pins.txt")
    assert not mutate.is_module("bench/lab/x.py")


def test_a_mutant_name_tells_its_module() -> None:
    assert mutate.module_of("lab.spec.routing.x_rules_of__mutmut_3") == "lab.spec.routing"
    assert mutate.module_of("lab.spec.routing.xǁRouteTableǁselect__mutmut_12") == "lab.spec.routing"
    assert mutate.dotted("lab/engines/kube/kind.py") == "lab.engines.kube.kind"


def test_the_sample_depends_only_on_names_size_and_seed() -> None:
    names = [f"lab.m.x_f__mutmut_{i}" for i in range(1000)]
    first = mutate.draw(names, 240, seed=16)
    assert len(first) == len(set(first)) == 240
    assert first == mutate.draw(list(reversed(names)), 240, seed=16)
    assert first != mutate.draw(names, 240, seed=17)
    assert mutate.draw(names, 0, seed=16) == sorted(names)
    assert mutate.draw(names[:5], 240, seed=16) == sorted(names[:5])


def test_scores_count_timeouts_and_type_errors_as_caught_and_the_rest_as_not() -> None:
    status = {
        "lab.a.x_f__mutmut_1": "killed",
        "lab.a.x_f__mutmut_2": "timeout",
        "lab.a.x_f__mutmut_3": "survived",
        "lab.a.x_f__mutmut_4": "caught by type check",
        "lab.b.x_g__mutmut_1": "killed",
        "lab.b.x_g__mutmut_2": "no tests",
    }
    rows = mutate.scores(status)
    assert [(r.module, r.caught, r.total) for r in rows] == [("lab.a", 3, 4), ("lab.b", 1, 2), ("all", 4, 6)]
    assert rows[-1].line().split(maxsplit=3) == [
        "all",
        "4/6",
        "66.7%",
        "1 caught by type check, 1 no tests, 1 survived, 1 timeout",
    ]
    assert mutate.Score("none", Counter()).line().split()[1:3] == ["0/0", "0.0%"]


def git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True, capture_output=True
    )


def test_the_changed_modules_are_committed_staged_edited_or_new(tmp_path: Path) -> None:
    for name in ("a", "b", "c", "d", "e"):
        (tmp_path / "lab").mkdir(exist_ok=True)
        (tmp_path / "lab" / f"{name}.py").write_text("x = 1\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    git(tmp_path, "checkout", "-q", "-b", "work")
    (tmp_path / "lab" / "a.py").write_text("x = 2\n")
    git(tmp_path, "commit", "-q", "-am", "a")
    (tmp_path / "lab" / "b.py").write_text("x = 3\n")
    git(tmp_path, "add", "lab/b.py")
    (tmp_path / "lab" / "c.py").write_text("x = 4\n")
    (tmp_path / "lab" / "new.py").write_text("x = 5\n")
    (tmp_path / "lab" / "__init__.py").write_text("")
    (tmp_path / "lab" / "e.py").unlink()
    (tmp_path / "notes.py").write_text("")
    assert mutate.changed_modules("main", cwd=tmp_path) == ["lab/a.py", "lab/b.py", "lab/c.py", "lab/new.py"]


def test_unknown_modules_are_refused_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert mutate.main(["--modules", "lab/spec/nothing.py"]) == 2
    assert "no such module: lab/spec/nothing.py" in capsys.readouterr().out


def test_mutation_runs_start_with_lab_caches_empty() -> None:
    """A mutant's test run is forked from the stats run: cached unmutated answers must go."""
    from lab.stats.acceptance import acceptance_region
    from tools.pytest_mutation import pytest_sessionstart

    acceptance_region(10, 0.5, 0.05)
    assert acceptance_region.cache_info().currsize > 0
    pytest_sessionstart(None)
    assert acceptance_region.cache_info().currsize == 0


def test_mutation_runs_take_the_quickest_tests_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from tools.pytest_mutation import pytest_collection_modifyitems

    items = [SimpleNamespace(nodeid=n) for n in ("t.py::slow", "t.py::new", "t.py::quick")]
    monkeypatch.chdir(tmp_path)
    pytest_collection_modifyitems(None, None, items)  # no stats yet: the order stays
    assert [i.nodeid for i in items] == ["t.py::slow", "t.py::new", "t.py::quick"]
    (tmp_path / "mutmut-stats.json").write_text(
        '{"duration_by_test": {"t.py::slow": 3.0, "t.py::quick": 0.1}}'
    )
    pytest_collection_modifyitems(None, None, items)
    assert [i.nodeid for i in items] == ["t.py::quick", "t.py::slow", "t.py::new"]
