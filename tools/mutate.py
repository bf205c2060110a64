"""`make mutate`: mutmut on the lab modules a change touches, or on a fixed random sample of mutants.

mutmut (pinned in pyproject's dev extra, configured under [tool.mutmut]) makes the mutants and runs
each against the tests that call the mutated function; this driver only picks the modules, draws
the sample with a printed seed, and prints the score per module with every survivor's diff.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import random
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "lab"
# What counts as caught: a test failed (1) or pytest broke (3); the mutant ran past its time budget;
# or mypy --strict, which `make test` runs, refuses the mutated code.
CAUGHT = ("killed", "timeout", "caught by type check")
# mypy as `make test` runs it (pyproject's strict settings), JSON for mutmut to map errors to mutants;
# the unused-ignore check is off because mutmut marks its generated lines `# type: ignore`
TYPE_CHECK = [sys.executable, "-m", "mypy", PACKAGE, "--output", "json", "--no-warn-unused-ignores"]


def changed_modules(base: str, cwd: Path = ROOT) -> list[str]:
    """The package's Python files that differ from `base`: committed, staged or not (new ones too)."""
    out: set[str] = set()
    for args in (
        ["git", "diff", "--name-only", f"{base}...HEAD"],
        ["git", "diff", "--name-only", "HEAD"],
        ["git", "ls-files", "--others", "--exclude-standard"],
    ):
        listed = subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=True).stdout
        out.update(line.strip() for line in listed.splitlines())
    return sorted(m for m in out if is_module(m) and (cwd / m).exists())


def is_module(path: str) -> bool:
    """A file mutmut mutates: a Python file of the package that holds code (not an `__init__`)."""
    return path.startswith(f"{PACKAGE}/") and path.endswith(".py") and not path.endswith("__init__.py")


def module_paths(spec: str) -> list[str]:
    """MODULES= entries (paths, dotted names or globs, space or comma separated) as file paths."""
    paths = []
    for item in spec.replace(",", " ").split():
        if not item.endswith(".py") and not item.endswith("*"):
            item = item.replace(".", "/") + ".py"
        paths.append(item)
    return paths


def dotted(path: str) -> str:
    """`lab/spec/routing.py` -> `lab.spec.routing`, the prefix of its mutants' names."""
    return path.removesuffix(".py").replace("/", ".")


def module_of(mutant: str) -> str:
    """The module a mutant name belongs to (`lab.spec.routing.x_rules_of__mutmut_3` -> routing's)."""
    return mutant.partition("__mutmut_")[0].rpartition(".")[0]


def draw(names: Iterable[str], size: int, seed: int) -> list[str]:
    """A reproducible sample: the same names, size and seed give the same mutants on any machine."""
    pool = sorted(names)
    if size <= 0 or size >= len(pool):
        return pool
    return sorted(random.Random(seed).sample(pool, size))  # noqa: S311 - a sample, not a secret


@dataclass(frozen=True)
class Score:
    """One module's result: how many mutants ran and how many of each status."""

    module: str
    statuses: Counter[str]

    @property
    def total(self) -> int:
        """Mutants run."""
        return sum(self.statuses.values())

    @property
    def caught(self) -> int:
        """Mutants a test failed on (or that ran past their time budget)."""
        return sum(self.statuses[s] for s in CAUGHT)

    def line(self) -> str:
        """One row of the report: module, caught/total, score, then every status but `killed`."""
        pct = 100.0 * self.caught / self.total if self.total else 0.0
        rest = ", ".join(f"{n} {s}" for s, n in sorted(self.statuses.items()) if s != "killed")
        return f"{self.module:<40} {self.caught:>4}/{self.total:<4} {pct:5.1f}%  {rest}"


def scores(status_by_name: dict[str, str]) -> list[Score]:
    """Per-module counts, then an `all` row."""
    by_module: dict[str, Counter[str]] = {}
    for name, status in status_by_name.items():
        by_module.setdefault(module_of(name), Counter())[status] += 1
    rows = [Score(m, c) for m, c in sorted(by_module.items())]
    return [*rows, Score("all", Counter(status_by_name.values()))]


def _mutmut_run(
    paths: Sequence[str], size: int, seed: int, max_children: int, tests: Sequence[str], type_check: bool
) -> dict[str, str]:
    """Generate the mutants of `paths`, draw the sample, let mutmut run it; status per mutant."""
    from mutmut import __main__ as mutmut_main
    from mutmut.configuration import config
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    config().only_mutate = list(paths)
    config().type_check_command = TYPE_CHECK if type_check else []
    if tests:
        config().pytest_add_cli_args_test_selection = list(tests)
    Path("mutants").mkdir(exist_ok=True)
    mutmut_main.copy_src_dir()
    mutmut_main.copy_also_copy_files()
    mutmut_main.setup_source_paths()
    mutmut_main.create_mutants(max_children)
    every = [k for p in walk_mutatable_files() for k in _keys(SourceFileMutationData, p)]
    chosen = draw(every, size, seed)
    print(
        f"mutate: {len(chosen)} of {len(every)} mutants (seed {seed}) in {len(paths)} module(s)", flush=True
    )
    mutmut_main._run(chosen, max_children)
    result: dict[str, str] = {}
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        result.update(
            {k: status_by_exit_code[data.exit_code_by_key[k]] for k in chosen if k in data.exit_code_by_key}
        )
    return result


def _keys(data_type: type, path: Path) -> list[str]:
    data = data_type(path=path)
    data.load()
    return list(data.exit_code_by_key)


def _survivor_diffs(names: Iterable[str]) -> str:
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    return "\n\n".join(f"# {n}\n{get_diff_for_mutant(n)}" for n in sorted(names))


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the options (or their environment variables), run, print the report; the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--modules",
        default=os.environ.get("MODULES", ""),
        help="paths, dotted names or globs (env MODULES); default: what differs from --base",
    )
    parser.add_argument(
        "--base", default=os.environ.get("BASE", "main"), help="git ref to diff against (env BASE)"
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=int(os.environ.get("SAMPLE", "0")),
        help="mutants to draw; 0 runs all (env SAMPLE)",
    )
    parser.add_argument(
        "--seed", type=int, default=int(os.environ.get("SEED", "16")), help="the sample's seed (env SEED)"
    )
    parser.add_argument(
        "--tests",
        default=os.environ.get("TESTS", ""),
        help="only these test files or folders (env TESTS); default: [tool.mutmut]'s selection",
    )
    parser.add_argument(
        "--type-check",
        action="store_true",
        default=os.environ.get("TYPECHECK", "") not in ("", "0"),
        help="mutants mypy --strict refuses count as caught, without running tests (env TYPECHECK=1)",
    )
    parser.add_argument(
        "--max-children",
        type=int,
        default=int(os.environ.get("JOBS", "2")),
        help="parallel mutants (env JOBS)",
    )
    args = parser.parse_args(argv)
    paths = module_paths(args.modules) if args.modules else changed_modules(args.base)
    if not paths:
        print(f"mutate: no module of {PACKAGE}/ differs from {args.base}; name some with MODULES=")
        return 0
    every_file = [str(p.relative_to(ROOT)) for p in (ROOT / PACKAGE).rglob("*.py")]
    unknown = [p for p in paths if not any(fnmatch.fnmatch(f, p) for f in every_file)]
    if unknown:
        print(f"mutate: no such module: {', '.join(unknown)} (give paths like lab/spec/routing.py)")
        return 2
    print("mutate: modules " + " ".join(paths), flush=True)
    os.chdir(ROOT)  # mutmut works in ./mutants of the current folder
    shutil.rmtree("mutants", ignore_errors=True)  # fresh stats: which tests call what changes with the tests
    status = _mutmut_run(
        paths, args.sample, args.seed, args.max_children, args.tests.split(), args.type_check
    )
    survivors = [n for n, s in status.items() if s not in CAUGHT]
    Path("mutants/survivors.diff").write_text(_survivor_diffs(survivors))
    print(f"\nmutate: seed {args.seed}, sample {len(status)}")
    for row in scores(status):
        print(row.line())
    print(f"survivors ({len(survivors)}), diffs in mutants/survivors.diff:")
    for name in sorted(survivors):
        print(f"  {status[name]:<10} {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
