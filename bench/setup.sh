#!/bin/sh
# Installs what the benchmark needs when it is missing (called by bench/run.py):
#   bench/setup.sh gc     Debian's Boehm GC (libgc-dev), for the C comparison
#   bench/setup.sh plot   matplotlib in a venv at target/bench/venv, for docs/scaling.png
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

for what in "$@"; do
    case "$what" in
    gc)
        if ! printf '#include <gc/gc.h>\nint main(void){GC_INIT();return 0;}\n' |
            ${CC:-cc} -x c - -lgc -o /dev/null 2>/dev/null; then
            echo "bench/setup.sh: installing libgc-dev (Boehm GC)" >&2
            as_root apt-get update -qq
            DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq libgc-dev >&2
        fi
        ;;
    plot)
        venv="$root/target/bench/venv"
        if ! "$venv/bin/python" -c 'import matplotlib' 2>/dev/null; then
            echo "bench/setup.sh: installing matplotlib into $venv" >&2
            mkdir -p "$root/target/bench"
            ${PYTHON:-python3} -m venv "$venv"
            "$venv/bin/pip" install -q matplotlib >&2
        fi
        ;;
    *)
        echo "bench/setup.sh: unknown component $what (gc, plot)" >&2
        exit 2
        ;;
    esac
done
