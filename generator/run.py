"""Generate landing files for every source over a range of days, with ground truth beside them."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from generator import channels
from generator.config import GeneratorConfig
from generator.inspection import inspect
from generator.world import World
from generator.writer import damage_rows, write_csv, write_truth

ENCODING = {"express": "cp949"}  # the express couriers' legacy system writes CP949


def _volume(base: int, scale: float, day: dt.date) -> int:
    weekend = 0.3 if day.weekday() >= 5 else 1.0
    return max(1, int(base * scale * weekend))


def generate(config: GeneratorConfig, start: dt.date, days: int, landing_dir: Path, truth_dir: Path,
             progress: Callable[[str], None] = print) -> dict:
    """Write `days` days from `start` for every source into `landing_dir/<source>/<day>/`, and the
    truth of every record and event into `truth_dir`. Deterministic for `config`. Returns counts."""
    began = time.perf_counter()
    world = World(config, start)
    end = start + dt.timedelta(days=days - 1)
    counts: dict[str, int] = defaultdict(int)
    later: dict[tuple[str, str], list[pd.DataFrame]] = defaultdict(list)  # rows due on another day

    def land(source: str, day: str, df: pd.DataFrame, rng: np.random.Generator) -> None:
        df, cut = damage_rows(source, df, config.rates.bad_rows, rng)
        write_csv(df, landing_dir / source / day / f"{source}-{day}.csv", cut, ENCODING.get(source, "utf-8"))
        counts[source] += len(df) + len(cut)

    first = start.isoformat()
    land("pccc_registry", first, world.registry().rename(columns=_headers("pccc_registry")), np.random.default_rng(0))
    land("watch_lists", first, world.watch.rename(columns=_headers("watch_lists")), np.random.default_rng(0))
    land("monitored_items", first, world.items.rename(columns=_headers("monitored_items")), np.random.default_rng(0))

    for i in range(days):
        day = start + dt.timedelta(days=i)
        rng = np.random.default_rng([config.seed, 100, day.toordinal()])
        batches = {
            "declarations": channels.declarations(world, day, _volume(config.declarations_per_day, config.scale, day),
                                                  config.rates, rng),
            "express": channels.express(world, day, _volume(config.express_per_day, config.scale, day),
                                        config.rates, rng),
            "mail": channels.mail(world, day, _volume(config.mail_per_day, config.scale, day), config.rates, rng),
        }
        for source, batch in batches.items():
            land(source, day.isoformat(), batch.rows, rng)
            write_truth(batch.truth, truth_dir / source / f"{day.isoformat()}.parquet")
            results = inspect(source, batch.rows, batch.truth, world, day, config.rates, rng)
            for result_day, part in results.groupby("Inspection Date"):
                later[("inspection_results", result_day)].append(part)
        orders = channels.platform_orders(batches["express"].rows, batches["express"].truth, rng)
        for order_day, part in orders.groupby("Order Date"):
            later[("platform_orders", order_day)].append(part)
        if i and i % 7 == 0:  # weekly registry changes: codes suspended for misuse
            reg = world.registry(rng.choice(len(world.pccc), max(1, len(world.pccc) // 500), replace=False))
            reg["status"] = "suspended"
            land("pccc_registry", day.isoformat(), reg.rename(columns=_headers("pccc_registry")), rng)
        total = sum(counts.values())
        progress(f"  [{i + 1}/{days}] {day}: {sum(len(b.rows) for b in batches.values())} records "
                 f"(total so far {total})")

    skipped = 0
    for (source, day), parts in sorted(later.items()):
        if not first <= day <= end.isoformat():
            skipped += sum(len(p) for p in parts)  # before the first day or after the last: not delivered
            continue
        rng = np.random.default_rng([config.seed, 200, dt.date.fromisoformat(day).toordinal()])
        land(source, day, pd.concat(parts), rng)
    truth_dir.mkdir(parents=True, exist_ok=True)
    (truth_dir / "events.json").write_text(json.dumps(
        [dict(e, start=e["start"].isoformat()) for e in world.events], indent=2, ensure_ascii=False))
    seconds = time.perf_counter() - began
    total = sum(counts.values())
    return {"rows": dict(counts), "total_rows": total, "seconds": round(seconds, 2),
            "rows_per_second": round(total / seconds) if seconds else None, "not_delivered_outside_range": skipped,
            "landing_dir": str(landing_dir), "truth_dir": str(truth_dir)}


def _headers(source: str) -> dict[str, str]:
    from jobs.sources import SOURCES

    return {c.name: c.header for c in SOURCES[source].columns}
