"""Start-up time of the commands people type most (run by hand): median of 11 runs each, in seconds.

    python benchmarks/startup.py
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (["--help"], ["plugins", "list"], ["train", "--help"])
OUT = Path(__file__).resolve().parent / "results" / "startup.json"


def median_seconds(args: list[str], runs: int = 11) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "hubembed", *args], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 3)


def main() -> None:
    result = {"hubembed " + " ".join(args): median_seconds(args) for args in COMMANDS}
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    for command, seconds in result.items():
        print(f"{command:28s} {seconds:.3f} s (median of 11)")


if __name__ == "__main__":
    main()
