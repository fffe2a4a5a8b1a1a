"""Peak resident memory of a benchmark's whole process tree (Python driver, Spark's JVM, Python
workers), sampled in a background thread."""

from __future__ import annotations

import threading
import time

import psutil


class PeakMemory:
    """Samples the resident memory of this process and all its children (the driver JVM, Python
    workers): the peak of the sum, and each kind's own peak."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.peak, self.by_kind = every, 0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        total, kinds = 0, {}
        for proc in [me, *me.children(recursive=True)]:
            try:
                rss = proc.memory_info().rss
                kind = "driver_python" if proc.pid == me.pid else ("jvm" if "java" in proc.name() else "python_workers")
            except psutil.Error:
                continue
            total += rss
            kinds[kind] = kinds.get(kind, 0) + rss
        self.peak = max(self.peak, total)
        for kind, rss in kinds.items():
            self.by_kind[kind] = max(self.by_kind.get(kind, 0), rss)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.every)

    def __enter__(self) -> PeakMemory:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
