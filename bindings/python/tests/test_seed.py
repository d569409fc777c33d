"""The seed walkthrough in Python (examples/python/seed.py), step by step.

It prints what the C demo (examples/seed.c, `make demo`) prints: the same
sections, the same Python lines, the same figures, checked the same way. Run
with `-s` to watch it. When the C demo's binary is available ($RCGC_SEED_DEMO,
or target/debug/seed after `make demo`), its lines are compared with ours.
"""

import importlib.util
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO

SEED_PY = REPO / "examples" / "python" / "seed.py"
FIGURE_LINE = re.compile(r"^(== |  python> |          prints )|\[ok\]|\[WRONG")


def load_seed():
    spec = importlib.util.spec_from_file_location("rcgc_seed_example", SEED_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_seed(want=None):
    lines = []

    def out(text):
        print(text)
        lines.extend(text.split("\n"))

    wrong = load_seed().run(want=want, out=out)
    return wrong, lines


def test_the_walkthrough_in_python():
    wrong, lines = run_seed()
    assert wrong == 0, "\n".join(lines)
    assert lines[-1] == "Every figure matched the walkthrough."
    assert sum("[ok]" in line for line in lines) == 27


def test_a_wrong_figure_is_reported():
    wrong, lines = run_seed(want={"get_threshold()": (700, 10, 11)})
    assert wrong == 1
    assert "          prints (700, 10, 10)   [WRONG: should be (700, 10, 11)]" in lines
    assert lines[-1] == "1 figure(s) were WRONG (see above)"


def test_as_a_program():
    env = dict(os.environ, PYTHONPATH=str(REPO / "bindings" / "python"))
    ok = subprocess.run([sys.executable, str(SEED_PY)], env=env, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def c_demo():
    path = os.environ.get("RCGC_SEED_DEMO") or str(REPO / "target" / "debug" / "seed")
    return path if os.path.isfile(path) else None


@pytest.mark.skipif(c_demo() is None, reason="the C demo is not built (make demo)")
def test_prints_what_the_c_demo_prints():
    c = subprocess.run([c_demo()], capture_output=True, text=True, check=True).stdout.split("\n")
    _, ours = run_seed()
    c_figures = [line for line in c if FIGURE_LINE.search(line)]
    our_figures = [line for line in ours if FIGURE_LINE.search(line)]
    assert len(c_figures) == 55
    assert our_figures == c_figures
