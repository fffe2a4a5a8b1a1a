"""Peak memory of a benchmark's whole process tree (Python driver, Spark's JVM, Python workers),
sampled in a background thread.

Two sums are kept. The resident set (RSS) of each process, summed, counts a page shared by several
processes once per process: Spark's Python workers are forked from one daemon, so the pages they
share are counted again for every worker. The proportional set size (PSS) splits each shared page
between the processes sharing it, so its sum over the tree is the memory the tree holds. The RSS
sum (`peak`) is what the figures before 2026-11-27 reported; `peak_pss` is the honest total."""

from __future__ import annotations

import threading
import time

import psutil


def _kind(proc: psutil.Process, me: psutil.Process) -> tuple[str, str]:
    """The process's kind: driver_python, jvm, python_workers (Spark's daemon and the workers it
    forks), profiler (py-spy) or other (any other child, e.g. a code server); and, for `other`,
    its command line (to name it in `PeakMemory.others`), else ""."""
    if proc.pid == me.pid:
        return "driver_python", ""
    name = proc.name()
    if "java" in name:
        return "jvm", ""
    if "py-spy" in name:
        return "profiler", ""
    command = " ".join(proc.cmdline())
    if "pyspark.daemon" in command or "pyspark.worker" in command:
        return "python_workers", ""
    return "other", command[:160]


def resident_and_proportional(proc: psutil.Process) -> tuple[int, int]:
    """A process's RSS and PSS in bytes, both from one read of `/proc/<pid>/smaps_rollup` (so the
    two describe the same moment); where that file does not exist, psutil's separate reads."""
    try:
        with open(f"/proc/{proc.pid}/smaps_rollup") as rollup:
            fields = dict(line.split(":", 1) for line in rollup if line.startswith(("Rss:", "Pss:")))
        return int(fields["Rss"].split()[0]) * 1024, int(fields["Pss"].split()[0]) * 1024
    except FileNotFoundError:
        if proc.is_running():
            memory = proc.memory_full_info()
            return memory.rss, memory.pss
        raise psutil.NoSuchProcess(proc.pid) from None


class PeakMemory:
    """Samples the memory of this process and all its children (the driver JVM, Python workers):
    the peak of the RSS sum and of the PSS sum, each kind's own peaks (reached at different
    moments), each kind's RSS at the moment of the sum's peak and when it came, and the most Python
    worker processes alive at once."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.peak, self.peak_pss = every, 0, 0
        self.by_kind: dict[str, int] = {}
        self.by_kind_pss: dict[str, int] = {}
        self.at_peak: dict[str, int] = {}  # each kind's RSS in the sample where the RSS sum peaked
        self.peak_at = 0.0  # seconds after the start when the RSS sum peaked
        self._began = time.perf_counter()
        self.python_workers = 0
        self.others: dict[str, int] = {}  # command line of an `other` child -> its peak RSS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        rss_total, pss_total, rss, pss, workers = 0, 0, {}, {}, 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                kind, command = _kind(proc, me)
                resident, proportional = resident_and_proportional(proc)  # about a millisecond
            except (psutil.Error, OSError, KeyError, ValueError):
                continue  # it ended while being read
            rss_total, pss_total = rss_total + resident, pss_total + proportional
            rss[kind], pss[kind] = rss.get(kind, 0) + resident, pss.get(kind, 0) + proportional
            workers += kind == "python_workers"
            if command:
                self.others[command] = max(self.others.get(command, 0), resident)
        if rss_total > self.peak:
            self.peak, self.at_peak, self.peak_at = rss_total, rss, time.perf_counter() - self._began
        self.peak_pss = max(self.peak_pss, pss_total)
        self.python_workers = max(self.python_workers, workers)
        for kind in rss:
            self.by_kind[kind] = max(self.by_kind.get(kind, 0), rss[kind])
            self.by_kind_pss[kind] = max(self.by_kind_pss.get(kind, 0), pss[kind])

    def figures(self, unit: float = 2**30) -> dict:
        """The peaks in GB (`unit` bytes), for a benchmark's JSON."""
        return {"peak_memory_gb": round(self.peak / unit, 2),
                "peak_memory_gb_by_process": {k: round(v / unit, 2) for k, v in self.by_kind.items()},
                "peak_memory_gb_at_peak": {k: round(v / unit, 2) for k, v in self.at_peak.items()},
                "peak_at_s": round(self.peak_at, 1),
                "peak_memory_pss_gb": round(self.peak_pss / unit, 2),
                "peak_memory_pss_gb_by_process": {k: round(v / unit, 2) for k, v in self.by_kind_pss.items()},
                "python_workers_at_most": self.python_workers,
                "other_children_gb": {k: round(v / unit, 2) for k, v in self.others.items()}}

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.every)

    def __enter__(self) -> PeakMemory:
        self._began = time.perf_counter()
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
