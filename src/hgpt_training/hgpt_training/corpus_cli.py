"""``hgpt corpus`` (= ``python -m hgpt_training.corpus_cli``): the motion corpus and its HME report.

Sits above what it orchestrates: the build (:mod:`hgpt_training.corpus`) and HME
(:mod:`hgpt_training.hme_report`), which do not import each other.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tyro

from hgpt_training.corpus import SUBSET_INCLUDE, CorpusConfig, build, print_summary
from hgpt_training.corpus_sources import retargeter_available
from hgpt_training.hme import PAEConfig
from hgpt_training.hme_report import HMEConfig, run_hme

DESCRIPTION = """\
The motion corpus (filter, 50 Hz, time-warp copies, splits, sharded Arrow store), its HME clusters, a report.

  hgpt corpus all                              CI subset (G1 + human): corpus + HME report, ~3 min on 2 cores
  hgpt corpus all --full                       every source -> outputs/corpus_full (+ /hme)
  hgpt corpus build --out outputs/corpus       corpus only, every G1 source, one process
  hgpt corpus build --out outputs/corpus --executor ray    same bytes, Ray tasks (local or --ray-address)
  hgpt corpus hme --corpus outputs/corpus      HME autoencoder, clusters and report on a built corpus

An interrupted build resumes: finished clips are reused. Details: docs/corpus.md."""

SUBSET_PAE = PAEConfig(epochs=8, steps_per_epoch=40)
"""Autoencoder training of the CI subset (~1 min on 2 cores); ``--full`` uses the PAEConfig defaults."""


def _subset_corpus() -> CorpusConfig:
    return CorpusConfig(out=Path("outputs/corpus_subset"), include=SUBSET_INCLUDE, include_human=True)


def _subset_hme() -> HMEConfig:
    return HMEConfig(pae=SUBSET_PAE)


@dataclass(frozen=True)
class AllConfig:
    """Build the corpus, then HME + report on it (hme.corpus is set to corpus.out).

    Default: the CI subset (corpus.include = SUBSET_INCLUDE, G1 + human, a short autoencoder training; about
    3 minutes on 2 cores) into outputs/corpus_subset. --full: every file of every source into
    outputs/corpus_full.
    """

    corpus: CorpusConfig = field(default_factory=_subset_corpus)
    hme: HMEConfig = field(default_factory=_subset_hme)
    full: bool = False
    """Every file of every source (corpus.include ignored); out defaults to outputs/corpus_full and the
    autoencoder trains with the PAEConfig defaults (20 epochs x 50 batches) unless set."""


def resolve(cfg: AllConfig) -> AllConfig:
    """Apply ``full`` and drop the human sources (with a note) when hgpt_retarget is not installed."""
    corpus, hme = cfg.corpus, cfg.hme
    if cfg.full:
        out = Path("outputs/corpus_full") if corpus.out == _subset_corpus().out else corpus.out
        corpus = dataclasses.replace(corpus, include=(), out=out)
        if hme.pae == SUBSET_PAE:
            hme = dataclasses.replace(hme, pae=PAEConfig())
    if corpus.include_human and not retargeter_available():
        print("hgpt_retarget not installed: building without the human sources")
        corpus = dataclasses.replace(corpus, include_human=False)
    return dataclasses.replace(cfg, corpus=corpus, hme=dataclasses.replace(hme, corpus=corpus.out))


def build_cmd(cfg: CorpusConfig) -> None:
    """Build the corpus."""
    r = build(cfg)
    print_summary(r.manifest)
    print(
        f"{cfg.out}: {r.computed} clips processed, {r.skipped} reused, packed={r.packed}, {r.seconds:.1f} s"
    )


def hme_cmd(cfg: HMEConfig) -> None:
    """Train HME on a built corpus, cluster it and write the report."""
    r = run_hme(cfg)
    print(f"HME report: {r.out / 'report.md'} ({r.seconds:.1f} s)")


def all_cmd(cfg: AllConfig) -> None:
    """Build the corpus and its HME report in one go."""
    t0 = time.perf_counter()
    cfg = resolve(cfg)
    b = build(cfg.corpus)
    print_summary(b.manifest)
    print(f"corpus: {b.computed} clips processed, {b.skipped} reused, {b.seconds:.1f} s")
    r = run_hme(cfg.hme)
    print(f"HME: {r.seconds:.1f} s; report {r.out / 'report.md'}; total {time.perf_counter() - t0:.1f} s")


def main() -> None:
    """``hgpt corpus`` / ``python -m hgpt_training.corpus_cli``: subcommands build, hme, all."""
    cmds: dict[str, tuple[type, Callable[[Any], None]]] = {
        "build": (CorpusConfig, build_cmd),
        "hme": (HMEConfig, hme_cmd),
        "all": (AllConfig, all_cmd),
    }
    cfg = tyro.extras.subcommand_cli_from_dict({k: t for k, (t, _) in cmds.items()}, description=DESCRIPTION)
    next(run for t, run in cmds.values() if isinstance(cfg, t))(cfg)


if __name__ == "__main__":
    main()
