"""Selector backtest on the public KCS sample: the benchmark contract (`customs-risk evaluate`) on
rolling windows, so that choices such as the critical reserve are made on earlier windows and the
2021-02..03 test window is only reported. Prints how often the sample repeats a consignment, each
window's figures and the critical trade-off, writes JSON.

    .venv/bin/python benchmarks/kcs_backtest.py            # three backtests + the reported split
    .venv/bin/python benchmarks/kcs_backtest.py --windows backtest-2020-12

Windows (train / valid / test, by declaration date):
  backtest-2020-09  2020-01..07 / 2020-08 / 2020-09..10
  backtest-2020-11  2020-01..09 / 2020-10 / 2020-11..12
  backtest-2020-12  2020-01..10 / 2020-11 / 2020-12..2021-01
  reported          2020-01..12 / 2021-01 / 2021-02..03   (the README's table)
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KCS_DIR = ROOT.parent / "shared" / "data" / "kcs"
SOURCES = ("declarations_2020-01_2020-12.csv", "declarations_2021-01_2021-03.csv")
# name: (train from, valid from, test from, test until), half-open date ranges
WINDOWS = {
    "backtest-2020-09": ("2020-01-01", "2020-08-01", "2020-09-01", "2020-11-01"),
    "backtest-2020-11": ("2020-01-01", "2020-10-01", "2020-11-01", "2021-01-01"),
    "backtest-2020-12": ("2020-01-01", "2020-11-01", "2020-12-01", "2021-02-01"),
    "reported": ("2020-01-01", "2021-01-01", "2021-02-01", "2021-04-01"),
}


def split_window(sources: list[Path], bounds: tuple[str, str, str, str], out: Path) -> dict[str, Path]:
    """Write the train, valid and test CSVs of one window (rows copied verbatim, header kept)."""
    names = ("train", "valid", "test")
    paths = {n: out / f"{n}.csv" for n in names}
    files = {n: paths[n].open("w", newline="") for n in names}
    writers = {n: csv.writer(f) for n, f in files.items()}
    header_written = False
    for source in sources:
        with source.open(newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            if not header_written:
                for w in writers.values():
                    w.writerow(header)
                header_written = True
            date_at = header.index("Date")
            for row in reader:
                day = row[date_at]
                for name, start, end in zip(names, bounds[:3], bounds[1:], strict=True):
                    if start <= day < end:
                        writers[name].writerow(row)
    for f in files.values():
        f.close()
    return paths


def repeat_consignments(sources: list[Path]) -> dict[str, float]:
    """How often the sample repeats a consignment: the share of declarations whose (HS6, net mass)
    another declaration shares, and the share of such groups whose declarations all had one outcome
    (why the identical-consignment profiles are so strong here)."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for source in sources:
        with source.open(newline="") as f:
            for row in csv.DictReader(f):
                groups[(row["HS6 Code"].zfill(6), row["Net Mass"])].append(row["Fraud"])
    repeated = [outcomes for outcomes in groups.values() if len(outcomes) > 1]
    rows = sum(len(outcomes) for outcomes in groups.values())
    return {
        "declarations": rows,
        "share_in_repeated_groups": round(sum(len(o) for o in repeated) / rows, 4) if rows else 0.0,
        "repeated_groups": len(repeated),
        "share_of_groups_with_one_outcome": round(sum(len(set(o)) == 1 for o in repeated) / len(repeated), 4)
        if repeated else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kcs-dir", type=Path, default=KCS_DIR)
    parser.add_argument("--windows", nargs="+", default=list(WINDOWS), choices=list(WINDOWS))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "kcs_backtest.json")
    args = parser.parse_args()
    sources = [args.kcs_dir / name for name in SOURCES]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        sys.exit(f"KCS sample not found: {missing} (pass --kcs-dir)")

    from jobs.settings import Settings
    from jobs.spark_session import build_spark_session
    from models.evaluate import evaluate

    repeats = repeat_consignments(sources)
    print(f"repeat consignments: {repeats['share_in_repeated_groups']:.1%} of {repeats['declarations']} declarations "
          f"share HS6 and net mass with another; {repeats['share_of_groups_with_one_outcome']:.1%} of those "
          f"{repeats['repeated_groups']} groups have a single outcome", flush=True)
    spark = build_spark_session(Settings.from_env(), app_name="customs-risk-backtest")
    results: dict[str, dict] = {"repeat_consignments": repeats}
    with tempfile.TemporaryDirectory(prefix="kcs-backtest-") as tmp:
        for i, name in enumerate(args.windows, 1):
            print(f"[{i}/{len(args.windows)}] {name}: {' / '.join(WINDOWS[name])}", flush=True)
            folder = Path(tmp) / name
            folder.mkdir()
            paths = split_window(sources, WINDOWS[name], folder)
            began = time.perf_counter()
            report, _ = evaluate(spark, [paths["train"]], paths["valid"], paths["test"])
            report["seconds"] = round(time.perf_counter() - began, 1)
            results[name] = report
            fraud, published = report["fraud_ranking"], report["published_ranking"]
            print(f"  n_test {report['n_test']}, training {report['train_seconds']} s, whole window "
                  f"{report['seconds']} s; fraud precision@5/10% {fraud['precision_at']['0.05']} / "
                  f"{fraud['precision_at']['0.1']}; published precision@10% {published['precision_at']['0.1']}, "
                  f"critical recall@10% {published['critical_recall_at']['0.1']}; novel consignments "
                  f"({report['novel_ranking']['n']}) precision@10% {report['novel_ranking']['precision_at']['0.1']}")
            print("  reserved share -> precision@10% / critical recall@10%: " + ", ".join(
                f"{t['critical_share']} -> {t['precision_at_0.1']} / {t['critical_recall_at_0.1']}"
                for t in report["critical_share_tradeoff"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"done: {len(args.windows)} windows; figures in {args.out}")


if __name__ == "__main__":
    main()
