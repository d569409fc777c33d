"""Where the package finds the library: $RCGC_LIB, next to the package, the
checkout's target/, the system's path; and a clear error when it is nowhere."""

import os
import shutil
import subprocess
import sys

from conftest import PYTHON_DIR

PROBE = "import rcgc, rcgc._ffi as f; print(f.LIB_PATH); print(rcgc.Heap().get_threshold())"


def probe(env_changes, cwd=None, path=PYTHON_DIR):
    env = {k: v for k, v in os.environ.items() if k != "RCGC_LIB"}
    env.update(env_changes)
    env["PYTHONPATH"] = str(path)
    return subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=cwd, capture_output=True, text=True)


def lib_path():
    import rcgc._ffi

    return rcgc._ffi.LIB_PATH


def test_rcgc_lib_wins(tmp_path):
    copy = tmp_path / "renamed-librcgc.so"
    shutil.copy(lib_path(), copy)
    r = probe({"RCGC_LIB": str(copy)})
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == [str(copy), "(700, 10, 10)"]


def test_rcgc_lib_that_is_not_a_file_is_an_error(tmp_path):
    r = probe({"RCGC_LIB": str(tmp_path / "nope.so")})
    assert r.returncode != 0
    assert f"RCGC_LIB={str(tmp_path / 'nope.so')!r} is not a file" in r.stderr


def test_next_to_the_package(tmp_path):
    # An installed copy: site-packages/rcgc/ with the library inside it.
    shutil.copytree(PYTHON_DIR / "rcgc", tmp_path / "rcgc", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(lib_path(), tmp_path / "rcgc" / "librcgc.so")
    r = probe({}, path=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split("\n")[:2] == [str(tmp_path / "rcgc" / "librcgc.so"), "(700, 10, 10)"]


def test_the_checkouts_target_directory():
    r = probe({})
    assert r.returncode == 0, r.stderr
    found = r.stdout.split("\n")[0]
    repo = PYTHON_DIR.parents[1]
    assert found in {str(repo / "target" / p / "librcgc.so") for p in ("debug", "release")}


def test_nowhere_is_a_clear_error(tmp_path):
    shutil.copytree(PYTHON_DIR / "rcgc", tmp_path / "rcgc", ignore=shutil.ignore_patterns("__pycache__"))
    r = probe({"LD_LIBRARY_PATH": ""}, path=tmp_path)
    if r.returncode == 0:  # an rcgc installed system-wide was found: also fine
        assert "librcgc.so" in r.stdout
        return
    assert "rcgc: cannot find the rcgc shared library. Set RCGC_LIB" in r.stderr
