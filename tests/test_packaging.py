"""Packaging: the distribution name, install hints, `python -m lab`, and warnings from pyproject.toml."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# `lab` on PyPI is an unrelated project; this name was free when checked with
# `pip download gateway-api-lab==99 --no-deps` ("from versions: none").
DISTRIBUTION = "gateway-api-lab"


def test_the_distribution_is_not_named_like_the_unrelated_pypi_package() -> None:
    assert PYPROJECT["project"]["name"] == DISTRIBUTION
    assert PYPROJECT["project"]["scripts"] == {"lab": "lab.__main__:main"}


def test_every_install_hint_names_the_distribution() -> None:
    texts = {p: p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "lab").rglob("*.py"))]}
    hints = [p for p, text in texts.items() if "pip install 'lab[" in text or 'pip install "lab[' in text]
    assert hints == []
    assert f"pip install '{DISTRIBUTION}[plot]'" in texts[ROOT / "lab" / "ui" / "pictures.py"]


def test_python_dash_m_lab_is_the_lab_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lab", "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Usage: lab [OPTIONS] COMMAND" in done.stdout
    assert "plan" in done.stdout and "up" in done.stdout


def test_license_is_an_spdx_string_not_the_deprecated_table() -> None:
    assert PYPROJECT["project"]["license"] == "Apache-2.0"
    requires = PYPROJECT["build-system"]["requires"]
    assert any(r.replace(" ", "").startswith("setuptools>=77") for r in requires), requires


def test_setuptools_reads_the_configuration_without_warnings() -> None:
    """What `pip install -e .` would print as BuildBackendWarning, read in-process."""
    setuptools = pytest.importorskip("setuptools")
    from setuptools.config.pyprojecttoml import apply_configuration
    from setuptools.dist import Distribution

    if tuple(int(x) for x in setuptools.__version__.split(".")[:2]) < (77, 0):
        pytest.skip(f"setuptools {setuptools.__version__} here predates SPDX license strings")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        apply_configuration(Distribution(), ROOT / "pyproject.toml")


def test_editable_install_uses_a_plain_path_entry() -> None:
    """A flat layout with package-dir "" = "." makes setuptools pick a .pth, not its warning finder."""
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"": "."}
