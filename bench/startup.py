"""Start-up cost: `modelyard --help` and `import modelyard`, against `import torch` as a reference.

Goal (shared/PERF.md): both well under 0.5 s. Runs each command alternately, prints medians.

    python bench/startup.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "modelyard --help": [shutil.which("modelyard") or "modelyard", "--help"],
    "python -m modelyard --help": [sys.executable, "-m", "modelyard", "--help"],
    'python -c "import modelyard"': [sys.executable, "-c", "import modelyard"],
    'python -c "import torch" (reference)': [sys.executable, "-c", "import torch"],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):
        for name, command in COMMANDS.items():
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            times[name].append(time.perf_counter() - started)
    for name, values in times.items():
        print(f"{name:40} {statistics.median(values):6.3f} s")
    worst = max(statistics.median(times[n]) for n in list(COMMANDS)[:3])
    print(f"\nslowest modelyard start-up: {worst:.3f} s (goal < 0.5 s)")


if __name__ == "__main__":
    main()
