"""OMASGAN's dimension ladder: where its stages stop improving on each other as the dimension grows.

The 2-D rings and blobs of :func:`skanomaly.datasets.make_multimodal_2d` are embedded in ``d`` dimensions and
OMASGAN (the gallery example's settings and 2,000 training rows) is fitted at each ``d``. One fit gives
the three stage scores (Task 1, Tasks 1-3, full) through ``ablation_scores``; the study also records where the
generated samples lie, what ``J`` makes of them, and the fit time. Further parts measure three design variants
on the ladder and on MNIST-5k leave-one-class-out, and candidate class defaults on the 2-D data.

Run from the repository root (one torch thread, one process)::

    OMP_NUM_THREADS=1 python docs/benchmarks/omasgan_ladder/study.py            # every part
    OMP_NUM_THREADS=1 python docs/benchmarks/omasgan_ladder/study.py --parts ladder defaults

Rows are appended to ``results.csv`` beside this file as each fit ends; a rerun skips the fits already there.
``--parts summary`` writes the tables of ``summary.md`` from ``results.csv``.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.ensemble import IsolationForest
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

from skanomaly.datasets import load_multimodal_2d, make_multimodal_2d, make_multimodal_2d_grid, \
    multimodal_2d_support_distance
from skanomaly.detectors import AutoEncoderDetector, OMASGANDetector
from skanomaly.detectors import omasgan
from skanomaly.nn import frozen

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.csv"

DIMENSIONS = (2, 4, 8, 16, 32, 64)
SEEDS = (0, 1, 2)
EMBEDDINGS = ("noise", "structured")
N_TRAIN = 2000  # normal training rows, as in the gallery example (1,000 made Task 3 worse than Task 1 at d = 2)
N_TEST_NORMAL = 1000
N_PER_KIND = 250  # test anomalies of each kind
EXTRA_NOISE = 0.05  # standard deviation in the extra directions (the modes' own noise)
OFF_DISTANCE = 0.5  # how far an off-manifold anomaly is moved out of the data (10 noise standard deviations)

#: The gallery example's settings (examples/plot_omasgan_boundary.py), except latent_dim: "auto" is the class's
#: rule, clip(d // 4, 2, 32), which gives the example's 2 at d <= 11.
LADDER_SETTINGS = dict(latent_dim="auto", batch_size=64, lr=1e-3, spectral_norm=False, lambda_r1=0.1, mu=2.0,
                       nu=2.5, boundary_reference="data", delta=1.0, task1_epochs=150, task2_epochs=30,
                       task3_epochs=30, j_epochs=150)

#: The rungs where the variants are measured: where the ladder's stages stop improving on each other.
VARIANT_RUNGS = (("noise", 8), ("noise", 16), ("structured", 4))
#: The rung of the latent-size control (the first where "auto" gives a latent code larger than 2).
CONTROL_RUNGS = (("noise", 16),)
#: One rung higher for the variant that kept the in-plane stages in order on the rungs above.
EXTRA_RUNGS = {"ae_code": (("noise", 32),)}

STAGES = {"task1": "stop_after=task1", "task3": "stop_after=task3", "j_only": "lambda_fd=0.0"}


# ------------------------------------------------------------------------------------------------ the data
def random_rotation(d, rng):
    """A random orthogonal ``d x d`` matrix (QR of a Gaussian matrix with the signs fixed)."""
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def extra_coordinates(n, d, embedding, rng):
    """The ``d - 2`` coordinates added to the plane's two.

    ``"noise"``: Gaussian noise of standard deviation ``EXTRA_NOISE`` (the data stay near a 2-D plane).
    ``"structured"``: each coordinate independently +1 or -1 plus that noise (two modes per extra direction,
    ``2 ** (d - 2)`` clusters in all, independent of the plane).
    """
    noise = EXTRA_NOISE * rng.standard_normal((n, d - 2))
    if embedding == "noise":
        return noise
    return rng.choice([-1.0, 1.0], size=(n, d - 2)) + noise


def extra_support_distance(extra, embedding):
    """Distance of the extra coordinates to their noise-free support (0 or the nearest corner of {-1, 1}^k)."""
    if extra.shape[1] == 0:
        return np.zeros(extra.shape[0])
    if embedding == "noise":
        return np.linalg.norm(extra, axis=1)
    return np.linalg.norm(extra - np.where(extra >= 0, 1.0, -1.0), axis=1)


def make_ladder(d, embedding, seed, n_train=N_TRAIN):
    """Training rows, test rows, test labels and anomaly kinds of one rung, plus its rotation.

    Test anomalies: ``"between"`` (in the plane, in the empty regions between the modes) and ``"outside"`` (in
    the plane, outside the modes' box), both with extra coordinates drawn like the normal rows', from
    :func:`skanomaly.datasets.load_multimodal_2d`; for ``d > 2`` also ``"off"``: normal rows moved by
    ``OFF_DISTANCE`` in a random direction of the extra coordinates (off the data manifold). ``d = 2`` is the
    2-D data itself (no rotation).
    """
    rng = np.random.RandomState(seed)
    plane, _ = make_multimodal_2d(n_train + N_TEST_NORMAL + N_PER_KIND, random_state=rng)
    labelled = load_multimodal_2d(n_normal=1, n_anomalies=4 * N_PER_KIND, random_state=rng)
    kinds_2d = labelled.anomaly_type
    between = labelled.data[kinds_2d == "between"][:N_PER_KIND]
    outside = labelled.data[kinds_2d == "outside"][:N_PER_KIND]
    parts = [plane[:n_train], plane[n_train:n_train + N_TEST_NORMAL], between, outside]
    kinds = ["normal"] * N_TEST_NORMAL + ["between"] * len(between) + ["outside"] * len(outside)
    rows = [np.hstack([p, extra_coordinates(len(p), d, embedding, rng)]) for p in parts]
    if d > 2:
        off_plane = plane[n_train + N_TEST_NORMAL:]
        off = np.hstack([off_plane, extra_coordinates(len(off_plane), d, embedding, rng)])
        direction = rng.standard_normal((len(off), d - 2))
        off[:, 2:] += OFF_DISTANCE * direction / np.linalg.norm(direction, axis=1, keepdims=True)
        rows.append(off)
        kinds += ["off"] * len(off)
    rotation = random_rotation(d, rng) if d > 2 else np.eye(2)
    X_train = rows[0] @ rotation
    X_test = np.vstack(rows[1:]) @ rotation
    kinds = np.array(kinds)
    return X_train, X_test, (kinds != "normal").astype(int), kinds, rotation


def make_ladder_grid(d, embedding, rotation, seed):
    """The 100 x 100 grid of :func:`make_multimodal_2d_grid` (labels from the plane), embedded like the data."""
    grid, y_grid = make_multimodal_2d_grid(100)
    rng = np.random.RandomState(10_000 + seed)
    return np.hstack([grid, extra_coordinates(len(grid), d, embedding, rng)]) @ rotation, y_grid


# ------------------------------------------------------------------------------------------------ measuring
def git_commit():
    """Commit of the package code that runs, and whether the checkout's package differs from it.

    ``SKANOMALY_CODE_COMMIT`` names it when the package is imported from an export of that commit.
    """
    if os.environ.get("SKANOMALY_CODE_COMMIT"):
        return os.environ["SKANOMALY_CODE_COMMIT"], False
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=HERE,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "skanomaly"], capture_output=True, text=True,
                               cwd=HERE, check=True).stdout.strip() != ""
    except (OSError, subprocess.CalledProcessError):
        return "unknown", True
    return commit, dirty


def widened_uniform(X, n, rng):
    """Uniform noise over the data's bounding box widened by a quarter of its range on each side."""
    low, high = X.min(axis=0), X.max(axis=0)
    widen = (high - low) / 4.0
    return rng.uniform(low - widen, high + widen, size=(n, X.shape[1]))


def stage_scores(detector, X):
    """Anomaly scores (higher = more anomalous) of every stage of one fit: task1, task3, j_only, full."""
    ablations = detector.ablation_scores(X)
    scores = {stage: -ablations[column].to_numpy() for stage, column in STAGES.items() if column in ablations}
    scores["full"] = detector.anomaly_score(X)
    if hasattr(detector, "extra_stage_scores"):
        scores.update(detector.extra_stage_scores(X))
    return scores


def auroc_by_kind(y, kinds, score):
    """AUROC on every anomaly, and on each kind of anomaly against the normal rows."""
    out = {"auroc": roc_auc_score(y, score)}
    for kind in ("between", "outside", "off"):
        mask = (kinds == "normal") | (kinds == kind)
        out[f"auroc_{kind}"] = roc_auc_score(y[mask], score[mask]) if (kinds == kind).any() else np.nan
    return out


def sample_diagnostics(detector, X_train, rotation, embedding, seed):
    """Where ``G``, ``B``, ``G'`` and uniform noise lie, and how ``J`` scores them.

    Nearest-neighbour distances to the training rows (median and mean), and, rotated back into the plane and
    the extra coordinates, each set's median distance to the 2-D support and to the extra coordinates' support.
    ``J`` is the standardised ``J~`` of ``score_terms`` (0 on average over the training rows by construction).
    """
    rng = np.random.RandomState(seed)
    sets = {"data": X_train, "G": detector.generate(1000, network="task1"), "B": detector.boundary_samples(1000),
            "Gp": detector.generate(1000, network="retrained"), "U": widened_uniform(X_train, 1000, rng)}
    nearest = NearestNeighbors(n_neighbors=2).fit(X_train)
    out = {}
    for name, points in sets.items():
        distance = nearest.kneighbors(points)[0]
        distance = distance[:, 1] if name == "data" else distance[:, 0]  # the data: nearest other row
        back = points @ rotation.T
        out[f"nn_median_{name}"] = float(np.median(distance))
        out[f"nn_mean_{name}"] = float(distance.mean())
        out[f"plane_dist_{name}"] = float(np.median(multimodal_2d_support_distance(back[:, :2])))
        out[f"extra_dist_{name}"] = float(np.median(extra_support_distance(back[:, 2:], embedding)))
        if name != "data" and getattr(detector, "stop_after", "j") in ("j", "full"):  # "full" before 0.1
            out[f"J_{name}"] = float(detector.score_terms(points)["J"].mean())
    return out


def history_terms(detector):
    """Last-epoch loss terms of Task 2 and J."""
    history = detector.history_
    task2 = history[history["stage"] == "task2"].iloc[-1]
    j = history[history["stage"] == "j"].iloc[-1]
    return {"task2_m": task2["m_divergence"], "task2_d": task2["d_distance"], "task2_s": task2["s_scatter"],
            "j_boundary_loss": j["j_boundary"], "j_data_loss": j["j_data"]}


# ------------------------------------------------------------------------------------------------ results file
KEY = ["part", "embedding", "d", "variant", "seed", "class", "stage"]


def done_keys():
    if not RESULTS.exists():
        return set()
    rows = pd.read_csv(RESULTS, dtype={"embedding": str, "class": str}, keep_default_na=False)
    return {tuple(r) for r in rows[["part", "embedding", "d", "variant", "seed", "class"]].astype(str).to_numpy()}


def append_rows(rows):
    frame = pd.DataFrame(rows)
    if RESULTS.exists():
        frame = pd.concat([pd.read_csv(RESULTS), frame], ignore_index=True)
    front = [c for c in KEY + ["auroc", "auroc_between", "auroc_outside", "auroc_off", "auroc_grid", "fit_seconds"]
             if c in frame]
    frame = frame[front + [c for c in frame.columns if c not in front]]
    frame.to_csv(RESULTS, index=False, float_format="%.6g")


def fit_key(part, embedding, d, variant, seed, cls=""):
    return (part, embedding, str(d), variant, str(seed), str(cls))


def record(part, embedding, d, variant, seed, detector, fit_seconds, scores, y, kinds, extra, settings, cls="",
           grid_scores=None, y_grid=None, n_train=None):
    commit, dirty = git_commit()
    rows = []
    for stage, score in scores.items():
        row = dict(zip(KEY, (part, embedding, d, variant, seed, cls, stage)))
        row.update(auroc_by_kind(y, kinds, score))
        if grid_scores is not None:
            row["auroc_grid"] = roc_auc_score(y_grid, grid_scores[stage])
        row.update(fit_seconds=fit_seconds, **extra, settings=json.dumps(settings, sort_keys=True, default=str),
                   n_train=N_TRAIN if n_train is None else n_train, torch_threads=torch.get_num_threads(),
                   git_commit=commit, git_dirty=dirty)
        rows.append(row)
    append_rows(rows)
    summary = " ".join(f"{stage} {row['auroc']:.3f}" + (f"/{row['auroc_grid']:.3f}" if "auroc_grid" in row else "")
                       for stage, row in zip(scores, rows))
    print(f"{part} {embedding} d={d} {variant} seed={seed} {cls} fit {fit_seconds:.0f}s: {summary}", flush=True)


# ------------------------------------------------------------------------------------------------ parts
def run_ladder(variants=("omasgan",), rungs=None, seeds=None, part="ladder", n_train=N_TRAIN):
    """Fit each variant on each rung ``(embedding, d)`` (default: the whole ladder) and seed; record every stage."""
    seeds = SEEDS if seeds is None else seeds
    if rungs is None:  # d = 2 has no extra coordinate: the same data for every embedding
        rungs = [(embedding, d) for embedding in EMBEDDINGS for d in DIMENSIONS
                 if d > 2 or embedding == EMBEDDINGS[0]]
    done = done_keys()
    for variant in variants:
        for embedding, d in rungs:
            for seed in seeds:
                if fit_key(part, embedding, d, variant, seed) in done:
                    continue
                X_train, X_test, y, kinds, rotation = make_ladder(d, embedding, seed, n_train=n_train)
                detector = make_variant(variant, seed, n_features=d)
                start = time.perf_counter()
                detector.fit(X_train)
                fit_seconds = time.perf_counter() - start
                extra = sample_diagnostics(detector, X_train, rotation, embedding, seed)
                extra.update(history_terms(detector))
                for kind in ("between", "outside", "off"):
                    if (kinds == kind).any():
                        extra[f"J_test_{kind}"] = float(detector.score_terms(X_test[kinds == kind])["J"].mean())
                extra["J_test_normal"] = float(detector.score_terms(X_test[kinds == "normal"])["J"].mean())
                X_grid, y_grid = make_ladder_grid(d, embedding, rotation, seed)
                record(part, embedding, d, variant, seed, detector, fit_seconds,
                       stage_scores(detector, X_test), y, kinds, extra, variant_settings(variant, n_features=d),
                       grid_scores=stage_scores(detector, X_grid), y_grid=y_grid, n_train=n_train)


def run_reference(seeds=None):
    """IsolationForest (class defaults) on every rung: how hard each rung is for a detector without a GAN."""
    seeds = SEEDS if seeds is None else seeds
    done = done_keys()
    rungs = [(embedding, d) for embedding in EMBEDDINGS for d in DIMENSIONS if d > 2 or embedding == EMBEDDINGS[0]]
    for embedding, d in rungs:
        for seed in seeds:
            if fit_key("reference", embedding, d, "IsolationForest", seed) in done:
                continue
            X_train, X_test, y, kinds, rotation = make_ladder(d, embedding, seed)
            start = time.perf_counter()
            forest = IsolationForest(random_state=seed).fit(X_train)
            fit_seconds = time.perf_counter() - start
            X_grid, y_grid = make_ladder_grid(d, embedding, rotation, seed)
            record("reference", embedding, d, "IsolationForest", seed, forest, fit_seconds,
                   {"full": -forest.score_samples(X_test)}, y, kinds, {},
                   {"estimator": "IsolationForest", "random_state": seed},
                   grid_scores={"full": -forest.score_samples(X_grid)}, y_grid=y_grid)


# ------------------------------------------------------------------------------------------------ the variants
class _FeatureSpaceTask2Net(omasgan._Task2Net):
    """Task 2 with ``d`` and ``s`` measured between the frozen Task-1 critic's penultimate features.

    The features are rescaled by ``radius(reference rows) / radius(their features)`` so that both terms keep
    the input's scale and the weights ``mu`` and ``nu`` keep their meaning. ``m`` is unchanged. Only the frozen
    critic (``boundary_critic="frozen"``) is supported.
    """

    def stage_step(self, X):
        module, hp, critic = self.module_, self.hp, self.module_.critic
        z = self._latent(X.shape[0], X)
        boundary = module.boundary_generator(z)
        with torch.no_grad():
            v_positive = critic(module.generator(self._latent(X.shape[0], X)))
            reference_rows = self._reference(X)
            reference = critic.features(reference_rows)
            scale = max(self.data_radius, omasgan._radius(reference_rows)) / max(omasgan._radius(reference), 1e-12)
        self.optimizer_.zero_grad()
        with frozen(critic):
            m = hp.boundary_divergence.estimate(v_positive, critic(boundary))
            features = critic.features(boundary) * scale
        d = omasgan.nearest_distance(features, reference * scale, hp.scatter_eps)
        s = omasgan.scattering(z, features, hp.scatter_eps)
        loss = -m + hp.mu * d + hp.nu * s
        loss.backward()
        self.optimizer_.step()
        return {"loss": loss, "m_divergence": m, "d_distance": d, "s_scatter": s,
                "boundary_critic_loss": X.new_zeros(())}


class FeatureSpaceOMASGAN(OMASGANDetector):
    """OMASGAN whose Task-2 terms ``d`` and ``s`` are distances in the Task-1 critic's feature space."""

    def _fit_networks(self, X, y, seed):
        original = omasgan._Task2Net
        omasgan._Task2Net = _FeatureSpaceTask2Net
        try:
            return super()._fit_networks(X, y, seed)
        finally:
            omasgan._Task2Net = original


class CodeSpaceOMASGAN:
    """OMASGAN fitted on the standardised codes of an autoencoder fitted first on the same rows.

    Samples (``generate``, ``boundary_samples``) are decoded into input space; scores encode their input.
    ``extra_stage_scores`` adds the autoencoder's own reconstruction error as a reference row.
    """

    def __init__(self, detector, autoencoder):
        self.detector = detector
        self.autoencoder = autoencoder
        self.stop_after = "j"

    def _codes(self, X):
        ae = self.autoencoder
        X = ae._validate_X(X, reset=False)
        return self.scaler_.transform(ae._batched(lambda x: ae.net_.module_.encoder(x), X))

    def _decode(self, codes):
        ae = self.autoencoder
        codes = torch.as_tensor(self.scaler_.inverse_transform(codes), dtype=torch.float64)
        with torch.no_grad():
            return ae.net_.module_.decoder(codes).numpy()

    def fit(self, X):
        self.autoencoder.fit(X)
        ae = self.autoencoder
        codes = ae._batched(lambda x: ae.net_.module_.encoder(x), ae._validate_X(X, reset=False))
        self.scaler_ = StandardScaler().fit(codes)
        self.detector.fit(self.scaler_.transform(codes))
        self.history_ = self.detector.history_
        return self

    def ablation_scores(self, X):
        return self.detector.ablation_scores(self._codes(X))

    def anomaly_score(self, X):
        return self.detector.anomaly_score(self._codes(X))

    def score_terms(self, X):
        return self.detector.score_terms(self._codes(X))

    def generate(self, n_samples, network="auto"):
        return self._decode(self.detector.generate(n_samples, network=network))

    def boundary_samples(self, n_samples):
        return self._decode(self.detector.boundary_samples(n_samples))

    def extra_stage_scores(self, X):
        return {"autoencoder": self.autoencoder.anomaly_score(X)}


AE_SETTINGS = {}  # the autoencoder of "ae_code": AutoEncoderDetector's class defaults

VARIANTS = {
    "omasgan": "the ladder settings",
    "feature_ds": "d and s measured in the frozen Task-1 critic's penultimate features (rescaled to input units)",
    "ae_code": "the whole procedure on the standardised codes of an AutoEncoderDetector (class defaults) fitted "
               "first",
    "latent_dim_2": "control, not a design change: the ladder settings with latent_dim=2 at every d (the class "
                    "rule 'auto' gives 4, 8 and 16 at d = 16, 32 and 64)",
    "strong_d": "a stronger boundary term: mu multiplied by sqrt(n_features / 2), the growth of the data's own "
                "nearest-neighbour distances with the dimension in the noise embedding",
}


def _known_names(settings):
    """``settings`` with the renamed parameters (output activation, critic sizes) under this version's names."""
    names = OMASGANDetector().get_params()
    renamed = {"generator_out_activation": "out_activation", "out_activation": "generator_out_activation",
               "hidden_layer_sizes": "critic_hidden_layer_sizes", "critic_hidden_layer_sizes": "hidden_layer_sizes"}
    return {(renamed[k] if k not in names and k in renamed else k): v for k, v in settings.items()}


def make_variant(variant, seed, base=None, n_features=2):
    """The detector of ``variant`` with the settings ``base`` (the ladder settings by default)."""
    settings = _known_names({**(LADDER_SETTINGS if base is None else base), "random_state": seed})
    if variant == "latent_dim_2":
        return OMASGANDetector(**{**settings, "latent_dim": 2})
    if variant == "strong_d":
        mu = settings.get("mu", OMASGANDetector().mu)
        return OMASGANDetector(**{**settings, "mu": mu * np.sqrt(n_features / 2.0)})
    if variant == "omasgan":
        return OMASGANDetector(**settings)
    if variant == "feature_ds":
        return FeatureSpaceOMASGAN(**settings)
    if variant == "ae_code":
        settings = _known_names({**settings, "out_activation": None})  # codes are not in [0, 1]
        return CodeSpaceOMASGAN(OMASGANDetector(**settings), AutoEncoderDetector(**AE_SETTINGS, random_state=seed))
    raise ValueError(f"unknown variant {variant!r}")


def variant_settings(variant, base=None, n_features=2):
    """The settings of one fit as recorded in the results (``mu`` as used by ``"strong_d"``)."""
    settings = {**(LADDER_SETTINGS if base is None else base), "variant": VARIANTS[variant]}
    if variant == "strong_d":
        settings["mu"] = settings.get("mu", OMASGANDetector().mu) * np.sqrt(n_features / 2.0)
    if variant == "latent_dim_2":
        settings["latent_dim"] = 2
    return settings


# ------------------------------------------------------------------------------------------------ class defaults
#: Candidate class defaults, measured with set_params on make_multimodal_2d(random_state=0) (1,000 rows).
GALLERY = dict(latent_dim=2, batch_size=64, lr=1e-3, spectral_norm=False, lambda_r1=0.1, mu=2.0, nu=2.5,
               boundary_reference="data", delta=1.0, task1_epochs=150, task2_epochs=30, task3_epochs=30,
               j_epochs=150)
BOUNDARY = dict(mu=2.0, nu=2.5, boundary_reference="data", delta=1.0)
DEFAULT_CANDIDATES = {
    "old_defaults": {"lr": 2e-4},  # the class defaults before lr="auto" (which gives 1e-3 to these MLPs)
    "gallery": GALLERY,
    "boundary_terms": BOUNDARY,
    "boundary_terms+lr": {**BOUNDARY, "lr": 1e-3},
    "boundary_terms+critic": {**BOUNDARY, "spectral_norm": False, "lambda_r1": 0.1},
    "boundary_terms+critic+lr": {**BOUNDARY, "spectral_norm": False, "lambda_r1": 0.1, "lr": 1e-3},
    "lr": {"lr": 1e-3},  # what lr="auto" gives these MLPs: the class defaults since 0.1
    "mu_nu+lr": {"mu": 2.0, "nu": 2.5, "lr": 1e-3},
    "mu_nu_reference+lr": {"mu": 2.0, "nu": 2.5, "boundary_reference": "data", "lr": 1e-3},
}


def run_defaults(candidates=None, seeds=None):
    """Median nearest-neighbour distance to the data of G, B and uniform noise, and grid AUROC per stage."""
    seeds = SEEDS if seeds is None else seeds
    candidates = DEFAULT_CANDIDATES if candidates is None else candidates
    done = done_keys()
    X, _ = make_multimodal_2d(random_state=0)
    X_grid, y_grid = make_multimodal_2d_grid(100)
    kinds = np.where(y_grid == 1, "between", "normal")
    for name, params in candidates.items():
        for seed in seeds:
            if fit_key("defaults", "2d", 2, name, seed) in done:
                continue
            detector = OMASGANDetector().set_params(**params, random_state=seed)
            start = time.perf_counter()
            detector.fit(X)
            fit_seconds = time.perf_counter() - start
            extra = sample_diagnostics(detector, X, np.eye(2), "noise", seed)
            extra.update(history_terms(detector))
            scores = stage_scores(detector, X_grid)
            record("defaults", "2d", 2, name, seed, detector, fit_seconds, scores, y_grid, kinds, extra,
                   {**params, "changed_from_class_defaults": sorted(params)}, n_train=len(X))


def defaults_moved_rows(changed):
    """Committed benchmark rows of OMASGANDetector that a change of the class defaults ``changed`` would move.

    A row moves when its detector ran with the current default of at least one changed parameter (its
    recorded ``params``), i.e. no study, preset or name override set that parameter to another value.
    """
    defaults = OMASGANDetector().get_params()
    out = []
    for path in sorted((HERE.parent).glob("*/results.csv")):
        rows = pd.read_csv(path)
        if "detector" not in rows or "params" not in rows:
            continue  # not a benchmark runner's export (e.g. this study's own file)
        rows = rows[rows["detector"].str.startswith("OMASGANDetector")]
        for _, row in rows.iterrows():
            params = json.loads(row["params"])
            nested = [value for value in params.values() if str(value).startswith("OMASGANDetector(")]
            if nested:  # an ensemble records its estimator's repr, which names the non-default parameters only
                explicit = set(re.findall(r"(\w+)=", nested[0]))
                moved = [key for key in changed if key not in explicit]
            else:
                params = {key.split("__")[-1]: value for key, value in params.items()}
                moved = [key for key in changed if key in params and params[key] == defaults[key]]
            if moved:
                out.append({"file": f"{path.parent.name}/results.csv", "detector": row["detector"],
                            "dataset": row["dataset"], "seed": row["seed"], "class": row["class"],
                            "moved_by": ",".join(moved)})
    return pd.DataFrame(out)


# ------------------------------------------------------------------------------------------------ MNIST-5k
MNIST_CLASSES = (0, 1, 2, 3)
#: The settings of the committed MLP rows "OMASGANDetector" of docs/benchmarks/mnist_loo (detectors.toml).
MNIST_SETTINGS = dict(critic_hidden_layer_sizes=(256, 256), out_activation="sigmoid", tau=5.0, lr=2e-4)


def run_mnist(variants, classes=MNIST_CLASSES, seed=0):
    """MNIST-5k leave-one-class-out, split seed 0, flat rows: each variant with the committed MLP rows' settings."""
    from skanomaly.benchmarks.protocols import get_protocol
    from skanomaly.benchmarks.registry import get_dataset_spec

    done = done_keys()
    bunch = get_dataset_spec("mnist").load()
    X_all, labels = bunch.data.reshape(len(bunch.data), -1), bunch.target
    split = get_protocol("leave-one-class-out").split
    for cls in classes:
        X_train, X_test, y_test = split(X_all, labels, seed, cls)
        kinds = np.where(y_test == 1, "between", "normal")
        for variant in ("IsolationForest", *variants):
            if fit_key("mnist", "", 784, variant, seed, cls) in done:
                continue
            start = time.perf_counter()
            if variant == "IsolationForest":
                forest = IsolationForest(random_state=seed).fit(X_train)
                fit_seconds = time.perf_counter() - start
                record("mnist", "", 784, variant, seed, forest, fit_seconds, {"full": -forest.score_samples(X_test)},
                       y_test, kinds, {}, {"estimator": "IsolationForest", "random_state": seed}, cls=cls,
                       n_train=len(X_train))
                continue
            detector = make_variant(variant, seed, base=MNIST_SETTINGS, n_features=X_train.shape[1])
            detector.fit(X_train)
            fit_seconds = time.perf_counter() - start
            extra = history_terms(detector)
            sets = {"G": detector.generate(1000, network="task1"), "B": detector.boundary_samples(1000)}
            nearest = NearestNeighbors(n_neighbors=1).fit(X_train)
            for name, points in sets.items():
                extra[f"nn_median_{name}"] = float(np.median(nearest.kneighbors(points)[0]))
                extra[f"J_{name}"] = float(detector.score_terms(points)["J"].mean())
            record("mnist", "", 784, variant, seed, detector, fit_seconds, stage_scores(detector, X_test), y_test,
                   kinds, extra, variant_settings(variant, base=MNIST_SETTINGS, n_features=X_train.shape[1]), cls=cls,
                   n_train=len(X_train))



# ------------------------------------------------------------------------------------------------ summary tables
STAGE_ORDER = ["task1", "task3", "full", "j_only"]
STAGE_NAMES = {"task1": "Task 1", "task3": "Tasks 1-3", "full": "full", "j_only": "J alone", "autoencoder": "AE alone"}


def _markdown(frame, index_names):
    """A pipe table of ``frame`` (index columns first), numbers with three decimals."""
    frame = frame.reset_index()
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join(":---" if c in index_names else "---:" for c in frame.columns) + "|"
    lines = [header, rule]
    for _, row in frame.iterrows():
        cells = ["–" if isinstance(v, float) and np.isnan(v) else f"{v:.3f}" if isinstance(v, float) else str(v)
                 for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _stage_table(rows, index, metrics, stages):
    parts = {}
    for metric, label in metrics.items():
        table = rows.pivot_table(index=index, columns="stage", values=metric, aggfunc="mean")
        for stage in stages:
            if stage in table:
                parts[f"{label}: {STAGE_NAMES[stage]}"] = table[stage]
    return pd.DataFrame(parts)


def write_summary():
    """Write ``summary.md`` beside the results file: the tables of the page, computed from the results."""
    rows = pd.read_csv(RESULTS)
    rows["class"] = rows["class"].astype("Int64").astype(str).replace("<NA>", "")
    out = ["<!-- Written by study.py (--parts summary) from results.csv; do not edit. -->", ""]
    ladder = rows[rows["part"] == "ladder"]
    metrics = {"auroc": "AUROC", "auroc_grid": "grid", "auroc_between": "between", "auroc_off": "off"}
    out += ["### The ladder: AUROC per stage (mean of seeds 0-2)", "",
            _markdown(_stage_table(ladder, ["embedding", "d"], {"auroc": "all", "auroc_grid": "grid"},
                                   ["task1", "task3", "full"]).round(3), ["embedding", "d"]), "",
            "### The ladder by kind of anomaly (mean of seeds 0-2)", "",
            _markdown(_stage_table(ladder, ["embedding", "d"], {"auroc_between": "between", "auroc_off": "off"},
                                   ["task1", "task3", "full", "j_only"]).round(3), ["embedding", "d"]), "",
            "### The ladder per seed: AUROC on every test anomaly", "",
            _markdown(ladder.pivot_table(index=["embedding", "d", "seed"], columns="stage", values="auroc")
                      [["task1", "task3", "full"]].rename(columns=STAGE_NAMES).round(3),
                      ["embedding", "d", "seed"]), ""]
    reference = rows[rows["part"] == "reference"]
    if len(reference):
        table = reference.groupby(["embedding", "d"])[["auroc", "auroc_grid", "auroc_between", "auroc_off"]].mean()
        out += ["### IsolationForest on the same rungs (class defaults, mean of seeds 0-2)", "",
                _markdown(table.rename(columns={"auroc": "all", "auroc_grid": "grid", "auroc_between": "between",
                                                "auroc_off": "off"}).round(3), ["embedding", "d"]), ""]
    full = ladder[ladder["stage"] == "full"]
    where = {"nn_median_data": "data", "nn_median_G": "G", "nn_median_B": "B", "nn_median_U": "uniform",
             "plane_dist_B": "B in-plane", "extra_dist_data": "data off-plane", "extra_dist_B": "B off-plane",
             "J_B": "J on B", "J_test_between": "J on between", "J_test_off": "J on off",
             "j_boundary_loss": "J loss on B", "fit_seconds": "fit (s)"}
    out += ["### Where the samples lie and what J makes of them (full fits, mean of seeds 0-2)", "",
            _markdown(full.groupby(["embedding", "d"])[list(where)].mean().rename(columns=where).round(3),
                      ["embedding", "d"]), ""]
    studied = VARIANT_RUNGS + CONTROL_RUNGS + tuple(rung for rungs in EXTRA_RUNGS.values() for rung in rungs)
    variants = pd.concat([ladder[ladder.set_index(["embedding", "d"]).index.isin(studied)],
                          rows[rows["part"] == "variants"]])
    if len(variants):
        out += ["### The variants on the rungs where the stages break (mean of seeds 0-2)", "",
                _markdown(_stage_table(variants, ["embedding", "d", "variant"], metrics,
                                       ["task1", "task3", "full"]).round(3), ["embedding", "d", "variant"]), "",
                "Seeds per row: " + ", ".join(
                    f"{e} d={d} {v}: {n}" for (e, d, v), n in
                    variants[variants["stage"] == "full"].groupby(["embedding", "d", "variant"]).size().items()),
                ""]
    mnist = rows[rows["part"] == "mnist"]
    if len(mnist):
        table = mnist.pivot_table(index="variant", columns=["class", "stage"], values="auroc")
        per_class = {}
        for (cls, stage), values in table.items():
            per_class.setdefault(STAGE_NAMES.get(stage, stage), {})[f"digit {cls}"] = values
        blocks = []
        for stage in ["Task 1", "Tasks 1-3", "full", "J alone", "AE alone"]:
            if stage in per_class:
                frame = pd.DataFrame(per_class[stage])
                frame["mean"] = frame.mean(axis=1)
                frame.insert(0, "stage", stage)
                blocks.append(frame)
        frame = pd.concat(blocks).dropna(subset=["mean"]).round(3)
        out += ["### MNIST-5k leave-one-class-out, seed 0: AUROC per held-out digit", "",
                _markdown(frame.set_index("stage", append=True), ["variant", "stage"]), ""]
    defaults = rows[rows["part"] == "defaults"]
    if len(defaults):
        table = defaults.pivot_table(index=["variant", "seed"], columns="stage", values="auroc")
        table = table[["task1", "task3", "full"]].rename(columns=lambda c: f"grid {STAGE_NAMES[c]}")
        dist = defaults[defaults["stage"] == "full"].set_index(["variant", "seed"])[
            ["nn_median_G", "nn_median_B", "nn_median_U", "fit_seconds"]].rename(
            columns={"nn_median_G": "G", "nn_median_B": "B", "nn_median_U": "uniform", "fit_seconds": "fit (s)"})
        table = table.join(dist)
        table["G < B < uniform"] = (table["G"] < table["B"]) & (table["B"] < table["uniform"])
        table["full > Task 1"] = table["grid full"] > table["grid Task 1"]
        order = list(DEFAULT_CANDIDATES)
        table = table.reset_index()
        table["variant"] = pd.Categorical(table["variant"], order, ordered=True)
        table = table.sort_values(["variant", "seed"]).set_index(["variant", "seed"]).round(3)
        out += ["### Candidate class defaults on make_multimodal_2d(random_state=0)", "",
                "Median distance to the nearest training row of 1,000 samples each; grid AUROC of each stage.", "",
                _markdown(table, ["variant", "seed"]), ""]
    RESULTS.with_name("summary.md").write_text("\n".join(out))


def main(argv=None):
    global RESULTS, SEEDS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+",
                        default=["scale_check", "ladder", "reference", "defaults", "variants", "mnist", "summary"],
                        choices=["scale_check", "ladder", "reference", "defaults", "variants", "mnist", "summary"])
    parser.add_argument("--variants", nargs="+", default=[v for v in VARIANTS if v not in ("omasgan", "latent_dim_2")],
                        choices=list(VARIANTS))
    parser.add_argument("--results", type=Path, default=RESULTS, help="results file (default: results.csv here)")
    parser.add_argument("--smoke", action="store_true", help="one epoch per stage, seed 0: checks the script runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    RESULTS = args.results
    if args.smoke:
        for settings in (LADDER_SETTINGS, GALLERY):
            settings.update(task1_epochs=1, task2_epochs=1, task3_epochs=1, j_epochs=1)
        AE_SETTINGS["max_epochs"] = 1
        SEEDS = (0,)
    if "scale_check" in args.parts:  # the 1,000-row setting first considered, at d = 2
        run_ladder(rungs=[("noise", 2)], part="scale_check", n_train=1000)
    if "ladder" in args.parts:
        run_ladder()
    if "reference" in args.parts:
        run_reference()
    if "defaults" in args.parts:
        run_defaults()
    if "variants" in args.parts:
        run_ladder(variants=[v for v in args.variants if v != "latent_dim_2"], rungs=VARIANT_RUNGS, part="variants")
        for variant, rungs in EXTRA_RUNGS.items():
            if variant in args.variants:
                run_ladder(variants=[variant], rungs=rungs, part="variants")
        run_ladder(variants=["latent_dim_2"], rungs=CONTROL_RUNGS, part="variants")
    if "mnist" in args.parts:
        run_mnist(["omasgan", *args.variants], classes=MNIST_CLASSES[:1] if args.smoke else MNIST_CLASSES)
    if "summary" in args.parts:
        write_summary()


if __name__ == "__main__":
    sys.exit(main())
