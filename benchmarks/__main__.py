"""`python -m benchmarks`: the project's one benchmark command (the runner is benchmarks/run.py)."""
from __future__ import annotations

from benchmarks.run import main

if __name__ == "__main__":
    main()
