"""Command-line entry point of service-b."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence

import numpy as np

from greeting import greet

PROG = "service-b"
USAGE = f"usage: {PROG} NUMBER [NUMBER ...]"


def _fail(message: str) -> int:
    print(f"{PROG}: {message}\n{USAGE}", file=sys.stderr)
    return 2


def run(argv: Sequence[str]) -> int:
    if not argv:
        return _fail("expected at least one number")
    values: list[float] = []
    for arg in argv:
        try:
            value = float(arg)
        except ValueError:
            return _fail(f"not a number: {arg!r}")
        if not math.isfinite(value):
            return _fail(f"not a finite number: {arg!r}")
        values.append(value)

    data = np.asarray(values, dtype=np.float64)
    result = {
        "count": int(data.size),
        "mean": float(np.mean(data)),
        "std": float(np.std(data)),  # population standard deviation (ddof=0)
        "greeting": greet(PROG),
    }
    print(json.dumps(result))
    return 0


def main() -> None:
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
