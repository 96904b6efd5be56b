"""Markdown summary of benchmark results: one table per (dataset, protocol), mean ± sd over seeds; and the
exports of an output folder (:func:`write_report`)."""

from __future__ import annotations

import datetime as _dt

import numpy as np
import pandas as pd

from .protocols import PROTOCOLS
from .registry import DATASETS, REFERENCE_DETECTOR
from .results import KEY_COLUMNS, METRIC_COLUMNS, normalize_results

__all__ = ["format_mean_sd", "format_percent", "markdown_table", "summarize", "write_report"]

_HEADERS = {
    "roc_auc": "AUROC",
    "average_precision": "AP",
    "precision_at_k": "Precision@k",
    "recall_at_k": "Recall@k",
    "f1_at_k": "F1@k",
    "fit_seconds": "fit (s)",
    "score_seconds": "score (s)",
}
_SUMMARY_COLUMNS = METRIC_COLUMNS + ["fit_seconds", "score_seconds"]


def markdown_table(header, rows, align=None):
    """Format a GitHub-flavoured markdown table.

    Parameters
    ----------
    header : list of str
        Column titles.
    rows : list of list
        Cells, converted with ``str``; ``|`` and line breaks inside cells are escaped.
    align : list of {"left", "right"}, default=None
        Alignment per column; default: first column left, the others right.

    Returns
    -------
    table : str
        The table, lines joined by ``"\\n"``, without a trailing newline.
    """
    n = len(header)
    if align is None:
        align = ["left"] + ["right"] * (n - 1)
    if len(align) != n or any(len(r) != n for r in rows):
        raise ValueError("Every row and the alignment need one entry per header column.")

    def cell(value):
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---:" if a == "right" else ":---" for a in align) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def format_percent(fraction):
    """A fraction as a percentage with three significant digits: ``0.025`` -> ``"2.5 %"``, ``1/11`` -> ``"9.09 %"``.

    Parameters
    ----------
    fraction : float

    Returns
    -------
    text : str
    """
    return f"{100 * float(fraction):.3g} %"


def format_mean_sd(values, digits=3):
    """``"mean ± sd"`` of the finite values (sample standard deviation, ``ddof=1``).

    Parameters
    ----------
    values : array-like
        Values; NaNs are ignored.
    digits : int, default=3
        Decimals.

    Returns
    -------
    text : str
        ``"0.912 ± 0.010"``; only the mean when there is a single value; ``"–"`` when there is none.
    """
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return "–"
    if values.size == 1:
        return f"{values[0]:.{digits}f}"
    return f"{values.mean():.{digits}f} ± {values.std(ddof=1):.{digits}f}"


def _detector_order(names):
    names = sorted(set(names))
    if REFERENCE_DETECTOR in names:
        names.remove(REFERENCE_DETECTOR)
        names.insert(0, REFERENCE_DETECTOR)
    return names


def _label(detector):
    return f"{detector} (reference)" if detector == REFERENCE_DETECTOR else detector


def _digits(column):
    return 2 if column.endswith("_seconds") else 3


def _per_seed_values(ok, column, per_class):
    """Values that the mean ± sd runs over: one per seed (class-averaged within the seed for per-class)."""
    if per_class:
        return ok.groupby("seed")[column].mean().to_numpy()
    return ok[column].to_numpy()


def _provenance(group):
    commits = [c for c in pd.unique(group["git_commit"].astype(str)) if c and c != "nan"]
    dirty = group["git_dirty"].astype(str).str.lower().isin(["true", "1"]).any()
    commit_text = ", ".join(c[:10] for c in commits) or "unknown"
    if dirty:
        commit_text += " (uncommitted changes)"
    versions = ", ".join(str(v) for v in pd.unique(group["skanomaly_version"].astype(str)))
    torch_versions = ", ".join(str(v) for v in pd.unique(group["torch_version"].astype(str)))
    devices = ", ".join(sorted({str(d) for d in group["device"] if str(d) and str(d) != "nan"})) or "–"
    stamps = pd.to_datetime(group["timestamp"], errors="coerce", utc=True).dropna()
    if len(stamps):
        first, last = stamps.min().strftime("%Y-%m-%d"), stamps.max().strftime("%Y-%m-%d")
        date = first if first == last else f"{first} to {last}"
    else:
        date = "unknown"
    return commit_text, versions, torch_versions, devices, date


def _k_text(dataset, protocol, group):
    if PROTOCOLS.get(protocol) is not None and PROTOCOLS[protocol].per_class:
        return "the anomaly ratio of each test set (precision = recall = F1 at k)"
    ks = group["k"].dropna().unique()
    if len(ks) == 1:
        return f"{format_percent(ks[0])} of the test set"
    spec = DATASETS.get(dataset)
    if spec is not None and spec.anomaly_ratio is not None:
        return f"{format_percent(spec.anomaly_ratio)} of the test set"
    return "see the k column of results.csv"


def _summarize_group(dataset, protocol, group):
    proto = PROTOCOLS.get(protocol)
    per_class = bool(proto is not None and proto.per_class)
    seeds = sorted(int(s) for s in pd.unique(group["seed"]))
    commit, versions, torch_versions, devices, date = _provenance(group)
    lines = [f"## {dataset} · {protocol}", ""]
    if proto is not None:
        lines.append(f"- Protocol: **{protocol}**: {proto.description}.")
    else:
        lines.append(f"- Protocol: **{protocol}**.")
    lines.append(f"- Seeds: {', '.join(map(str, seeds))} ({len(seeds)}).")
    if per_class:
        classes = sorted(int(c) for c in group["class"].dropna().unique())
        lines.append(f"- Classes: {', '.join(map(str, classes))}; each cell averages the classes within a seed, "
                     "then gives mean ± sd over seeds.")
    lines.append(f"- Top-k: {_k_text(dataset, protocol, group)}.")
    lines.append(f"- Commit: {commit}; skanomaly {versions}; torch {torch_versions}; device {devices}.")
    lines.append(f"- Date: {date}.")
    lines.append("")

    header = ["Detector", "Runs ok"] + [_HEADERS[c] for c in _SUMMARY_COLUMNS]
    rows, failures = [], []
    detectors = _detector_order(group["detector"])
    for det in detectors:
        runs = group[group["detector"] == det]
        ok = runs[runs["status"] == "ok"]
        statuses = set(runs["status"])
        row = [_label(det), f"{len(ok)}/{len(runs)}"]
        if len(ok) == 0:
            word = "skipped" if statuses == {"skipped"} else "failed"
            row += [word] * len(_SUMMARY_COLUMNS)
        else:
            row += [format_mean_sd(_per_seed_values(ok, c, per_class), _digits(c)) for c in _SUMMARY_COLUMNS]
        rows.append(row)
        bad = runs[runs["status"] != "ok"]
        for message, sub in bad.groupby(bad["error"].astype(str), sort=False):
            where = f"seeds {', '.join(str(int(s)) for s in sorted(pd.unique(sub['seed'])))}"
            if per_class and sub["class"].notna().any():
                where += f", classes {', '.join(str(int(c)) for c in sorted(sub['class'].dropna().unique()))}"
            status = "/".join(sorted(set(sub["status"].astype(str))))
            failures.append(f"- {det} ({status}, {where}): {message or 'no message'}")
    lines.append(markdown_table(header, rows))
    lines.append("")
    lines.append("Cells: mean ± sd (sample sd) over seeds; a cell without ± has a single value.")
    if failures:
        lines += ["", "Runs that did not finish:", ""] + failures
    if per_class:
        classes = sorted(int(c) for c in group["class"].dropna().unique())
        lines += ["", "### AUROC per class (mean ± sd over seeds)", ""]
        class_rows = []
        for det in detectors:
            ok = group[(group["detector"] == det) & (group["status"] == "ok")]
            cells = []
            for cls in classes:
                values = ok.loc[ok["class"] == cls, "roc_auc"].to_numpy()
                cells.append(format_mean_sd(values))
            class_rows.append([_label(det)] + cells)
        lines.append(markdown_table(["Detector"] + [str(c) for c in classes], class_rows))
    return "\n".join(lines)


def summarize(results_df, *, title="skanomaly benchmark results"):
    """Markdown summary of benchmark results.

    One section per (dataset, protocol) with a header (protocol, seeds, top-k rule, commit, versions, date)
    and a table: detectors as rows (``IsolationForest``, the reference, first), columns AUROC, AP,
    precision/recall/F1 at k, fit and score seconds, each as mean ± sd over seeds. For the per-class image
    protocols each seed's value is first averaged over the classes, and a second table gives the AUROC of each
    class. Runs that failed or were skipped are counted in the ``Runs ok`` column and listed with their message.

    Parameters
    ----------
    results_df : pandas.DataFrame
        Rows as returned by :func:`~skanomaly.benchmarks.run_benchmark` or read from ``results.csv``.
    title : str, default="skanomaly benchmark results"
        Top-level heading.

    Returns
    -------
    markdown : str
        The summary, ending with a newline.
    """
    if not isinstance(results_df, pd.DataFrame):
        raise ValueError(f"results_df must be a pandas DataFrame, got {type(results_df).__name__}.")
    missing = [c for c in KEY_COLUMNS + ["status"] if c not in results_df.columns]
    if missing:
        raise ValueError(f"results_df lacks the columns {missing}; pass the output of run_benchmark.")
    df = normalize_results(results_df)
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [f"# {title}", "",
             f"Generated {now} from {len(df)} runs. Anomaly score = -score_samples; tabular features are "
             "scaled with statistics of the training part only.", ""]
    if len(df) == 0:
        parts.append("No runs.")
    for (dataset, protocol), group in df.groupby(["dataset", "protocol"], sort=True):
        parts += [_summarize_group(dataset, protocol, group), ""]
    return "\n".join(parts).rstrip("\n") + "\n"


def write_report(folder):
    """Regenerate an output folder's exports, ``results.csv`` and ``summary.md``, from its run store.

    A folder with a ``results.csv`` and no ``runs.sqlite`` gets the CSV imported into a new store first.

    Parameters
    ----------
    folder : str or path-like
        An output folder of :func:`~skanomaly.benchmarks.run_benchmark`.

    Returns
    -------
    results : pandas.DataFrame
        The exported rows.

    Raises
    ------
    ValueError
        When the folder holds neither a run store nor a ``results.csv``, or one of them cannot be read (the
        message names the file).
    """
    from pathlib import Path

    from .store import STORE_NAME, RunStore

    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder} is not a folder of benchmark results.")
    if not (folder / STORE_NAME).exists() and not (folder / "results.csv").exists():
        raise ValueError(f"{folder} holds no run store ({STORE_NAME}) and no results.csv.")
    with RunStore(folder) as store:
        return store.export(summarize)
