"""How many declarations in a day the plain pandas script (benchmarks/pandas_daily.py) handles on
this machine before it runs out of memory.

    .venv/bin/python benchmarks/pandas_memory.py --baseline .bench/run-1m-h30/baseline \\
        --declarations 1200000 2400000 3600000

`--baseline` is the folder a `daily_run.py --workdir DIR` run leaves in DIR/baseline: the history
as parquet (30 days of declarations) and the champion's fraud booster. For each size a day of
generated declarations (the benchmark's world, written in chunks so the generator's own memory
stays small) goes through the script with nothing else running; past the memory the machine has
free the script is stopped and reported out of memory (the sizes after it are skipped). Writes
benchmarks/results/pandas_memory.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.daily_run import START, generated_world, log, run_pandas_script  # noqa: E402

CHUNK = 250_000


def write_declarations(path: Path, day: dt.date, rows: int) -> None:
    """`rows` generated declarations of `day` as one CSV, generated and appended chunk by chunk."""
    import numpy as np

    from generator import channels
    from generator.writer import write_csv

    world = generated_world()
    part = path.with_name("part.csv")
    with path.open("wb") as out:
        for i, start in enumerate(range(0, rows, CHUNK)):
            rng = np.random.default_rng([world.config.seed, 17, day.toordinal(), i])
            batch = channels.declarations(world, day, min(CHUNK, rows - start), world.config.rates, rng)
            write_csv(batch.rows, part)
            with part.open("rb") as chunk:
                if i:
                    chunk.readline()  # one header
                shutil.copyfileobj(chunk, out)
    part.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="history.parquet and fraud.ubj")
    parser.add_argument("--declarations", type=int, nargs="+", required=True, help="day sizes to try, ascending")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "pandas_memory.json")
    args = parser.parse_args()
    day = START + dt.timedelta(days=30)
    results = []
    work = Path(tempfile.mkdtemp(prefix="pandas_memory_"))
    try:
        for rows in sorted(args.declarations):
            log(f"{rows:,} declarations: generating the day's CSV")
            csv = work / "declarations.csv"
            write_declarations(csv, day, rows)
            log(f"  {csv.stat().st_size / 2**30:.2f} GB of CSV; the pandas script")
            result = run_pandas_script([csv], args.baseline, work)
            result["declarations"] = rows
            results.append(result)
            args.out.write_text(json.dumps(results, indent=2))
            if result.get("failed"):
                break
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ok = [r["declarations"] for r in results if not r.get("failed")]
    failed = [r for r in results if r.get("failed")]
    log(f"\nthe pandas script handled {', '.join(f'{n:,}' for n in ok) or 'none'} declarations"
        + (f"; at {failed[0]['declarations']:,} it "
           + ("ran out of memory" if failed[0].get("out_of_memory") else "failed") if failed else "")
        + f"\nwritten {args.out}")


if __name__ == "__main__":
    main()
