"""Generator throughput: records written per second for every source, at a given scale.

    .venv/bin/python benchmarks/generate.py --days 30 --scale 20
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import tempfile
from pathlib import Path

from generator.config import GeneratorConfig
from generator.run import generate

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--scale", type=float, default=20)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workers", type=int, default=None, help="default: one per core")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "generate.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gen-bench-"))
    try:
        summary = generate(GeneratorConfig(seed=args.seed, scale=args.scale), dt.date(2024, 1, 1), args.days,
                           work / "landing", work / "truth", progress=lambda line: print(line, flush=True),
                           workers=args.workers)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary.update(days=args.days, scale=args.scale, cores=os.cpu_count(),
                   measured_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2))
    print(f"\n{summary['total_rows']} records in {summary['seconds']}s = {summary['rows_per_second']} records/s "
          f"(scale {args.scale}, {args.days} days, {summary['workers']} workers, {os.cpu_count()} cores)")
    print(f"results: {args.out}")


if __name__ == "__main__":
    main()
