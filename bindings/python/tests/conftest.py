"""Runs the package from the source tree: bindings/python goes first on sys.path."""

import pathlib
import sys

import pytest

PYTHON_DIR = pathlib.Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parents[1]
sys.path.insert(0, str(PYTHON_DIR))

import rcgc  # noqa: E402


@pytest.fixture
def heap():
    h = rcgc.Heap()
    yield h
    h.close()
