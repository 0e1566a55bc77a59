"""Hand-written MCAP record scanner (hgpt_bringup.bag_recover.scan_mcap) vs the ``mcap`` package's
StreamReader.

Issue 17 asks whether the ``mcap`` library (1.6.0, which reads records in a stream without the summary)
can replace the scanner that recovers damaged bags. Same bag as bench_bag (3910 real messages), three
cases: intact, cut at 90 % of its size (copy interrupted), and cut at 50 %. For each: messages recovered
and the time per scan (median and p99 over ``--repeats``), the library's row next to ours in the same run.

  pip install mcap==1.6.0   # the library under review (not a project dependency)
  python benchmarks/bench_bag_scan.py [--repeats 15]
"""

from __future__ import annotations

import io
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro
from bench_bag import real_messages, write_ours

from hgpt_bringup.bag_recover import scan_mcap

try:
    import mcap  # noqa: F401 - the library under review, not a project dependency

    HAVE_MCAP = True
except ImportError:
    HAVE_MCAP = False


def scan_library(path: Path) -> tuple[int, str]:
    """Messages the mcap StreamReader yields before the cut, and what stopped it."""
    from mcap.records import Message
    from mcap.stream_reader import StreamReader

    n, why = 0, ""
    data = path.read_bytes()
    try:
        for rec in StreamReader(io.BytesIO(data), skip_magic=False, emit_chunks=False).records:
            if isinstance(rec, Message):
                n += 1
    except Exception as exc:  # noqa: BLE001 - what the library raises at a cut is the finding
        why = f"{type(exc).__name__}"
    return n, why


@dataclass(frozen=True)
class Args:
    repeats: int = 15


def main(args: Args) -> None:
    if not HAVE_MCAP:
        print("mcap is not installed (pip install mcap==1.6.0): only our scanner's rows")
    msgs = real_messages()
    with tempfile.TemporaryDirectory() as tmp:
        bag = Path(tmp) / "bag"
        write_ours(bag, msgs)
        full = next(bag.glob("*.mcap"))
        cases = {"intact": full}
        for frac in (0.9, 0.5):
            cut = Path(tmp) / f"cut{int(frac * 100)}.mcap"
            shutil.copyfile(full, cut)
            with cut.open("r+b") as f:
                f.truncate(int(full.stat().st_size * frac))
            cases[f"cut at {int(frac * 100)} %"] = cut
        print(f"\n{len(msgs)} messages, {full.stat().st_size / 1e6:.2f} MB, {args.repeats} repeats\n")
        print(
            "| bag | reader | messages recovered | median [ms] | p99 [ms] | ratio (median, vs ours) "
            "| stops with |"
        )
        print("|---|---|---:|---:|---:|---:|---|")
        for name, path in cases.items():
            rows = {}
            readers = [("hgpt scan_mcap", lambda p=path: (len(scan_mcap(p).messages), ""))]
            if HAVE_MCAP:
                readers.append(("mcap StreamReader", lambda p=path: scan_library(p)))
            for label, fn in readers:
                times, res = [], None
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    res = fn()
                    times.append(1e3 * (time.perf_counter() - t0))
                rows[label] = (res, np.median(times), np.percentile(times, 99))
            base = rows["hgpt scan_mcap"][1]
            for label, ((n, why), med, p99) in rows.items():
                print(f"| {name} | {label} | {n} | {med:.1f} | {p99:.1f} | {med / base:.2f} | {why or '-'} |")


if __name__ == "__main__":
    main(tyro.cli(Args))
