"""Fits that can be trusted, for every detector and the seed ensemble.

- A ``KeyboardInterrupt`` (a real SIGINT) ends ``fit`` after one Ctrl-C and leaves the estimator unfitted.
- A fit or a refit that raises leaves no fitted attribute behind (``NotFittedError`` on scoring).
- The divergence guard stops exploding training (its message, for every detector, is checked in
  tests/test_contract.py); sane fits (defaults, presets, the test suite's tiny settings) are not flagged.
- AMA's A-score stays finite for extreme inputs; OMASGAN trains on tiny-scale data and rejects identical rows.
- ``verbose=1`` names each stage and writes no colour codes when the output is not a terminal.
"""

import os
import queue
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from skanomaly.base import DivergenceGuard
from skanomaly.datasets import load_thyroid
from skanomaly.detectors import (AMADetector, AutoEncoderDetector, DeepSVDDDetector, MirroredAEDetector,
                                 OMASGANDetector)
from skanomaly.detectors.presets import get_preset
from skanomaly.ensemble import SeedEnsembleDetector
from skanomaly.exceptions import TrainingDivergedError

# Tiny networks and one or two epochs (as tests/test_common.py): these tests check the fit contract.
TINY = {
    "AutoEncoderDetector": lambda **p: AutoEncoderDetector(
        **{"max_epochs": 2, "batch_size": 32, "hidden_layer_sizes": (8,), "latent_dim": 2, "device": "cpu", **p}),
    "AMADetector": lambda **p: AMADetector(
        **{"max_epochs": 2, "batch_size": 32, "hidden_layer_sizes": (8,), "critic_hidden_layer_sizes": (8,),
           "latent_dim": 2, "n_critic": 1, "device": "cpu", **p}),
    "MirroredAEDetector": lambda **p: MirroredAEDetector(
        **{"max_epochs": 2, "batch_size": 32, "hidden_layer_sizes": (8,), "critic_hidden_layer_sizes": (8,),
           "latent_dim": 2, "selection_warmup_epochs": 0, "n_critic": 1, "device": "cpu", **p}),
    "DeepSVDDDetector": lambda **p: DeepSVDDDetector(
        **{"objective": "soft-boundary", "radius_warmup_epochs": 1, "max_epochs": 2, "batch_size": 32,
           "hidden_layer_sizes": (8,), "latent_dim": 2, "device": "cpu", **p}),
    "OMASGANDetector": lambda **p: OMASGANDetector(
        **{"task1_epochs": 1, "task2_epochs": 1, "task3_epochs": 1, "j_epochs": 1, "critic_hidden_layer_sizes": (8,),
           "latent_dim": 2, "batch_size": 32, "n_reference": 16, "device": "cpu", **p}),
    "SeedEnsembleDetector": lambda **p: SeedEnsembleDetector(
        AutoEncoderDetector(max_epochs=2, batch_size=32, hidden_layer_sizes=(8,), latent_dim=2, device="cpu",
                            **{k: v for k, v in p.items() if k != "random_state"}),
        n_estimators=2, random_state=p.get("random_state")),
}
NAMES = list(TINY)
# How many skorch nets one fit trains: OMASGAN one per stage, the ensemble one per member.
N_NETS = {"OMASGANDetector": 4, "SeedEnsembleDetector": 2}


@pytest.fixture(scope="module")
def X():
    return np.random.RandomState(0).normal(size=(120, 5))


def _assert_unfitted(estimator, X):
    assert not [name for name in vars(estimator) if name.endswith("_") and not name.startswith("__")]
    with pytest.raises(NotFittedError):
        check_is_fitted(estimator)
    with pytest.raises(NotFittedError):
        estimator.score_samples(X)


class _LateFailure(Exception):
    pass


@pytest.fixture
def fail_in_last_net(monkeypatch):
    """Make the last training net of a fit (OMASGAN's stage J, the ensemble's last member) raise in epoch 1."""
    state = {"nets": 0, "fail_at": None}
    original = DivergenceGuard.on_train_begin

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        original(self, net, X=X, y=y, **kwargs)
        state["nets"] += 1
        if state["nets"] == state["fail_at"]:
            raise _LateFailure("bad data found late")

    monkeypatch.setattr(DivergenceGuard, "on_train_begin", on_train_begin)

    def arm(name):
        """Fail in ``name``'s last net; ``None`` disarms."""
        state["nets"] = 0
        state["fail_at"] = None if name is None else N_NETS.get(name, 1)

    return arm


# ------------------------------------------------------------------------------------- atomic fit
@pytest.mark.parametrize("name", NAMES)
def test_failed_fit_leaves_the_estimator_unfitted(name, X, fail_in_last_net):
    fail_in_last_net(name)
    estimator = TINY[name](random_state=0)
    with pytest.raises(_LateFailure):
        estimator.fit(X)
    _assert_unfitted(estimator, X)


@pytest.mark.parametrize("name", NAMES)
def test_failed_refit_leaves_the_estimator_unfitted(name, X, fail_in_last_net):
    estimator = TINY[name](random_state=0).fit(X)
    assert np.isfinite(estimator.score_samples(X)).all()
    fail_in_last_net(name)
    with pytest.raises(_LateFailure):
        estimator.fit(X)  # the old model must not survive under the failed refit
    _assert_unfitted(estimator, X)
    # Invalid parameters found before training: also unfitted, and the estimator fits again once corrected.
    fail_in_last_net(None)
    estimator.fit(X)
    estimator.set_params(contamination=2.0)
    with pytest.raises(ValueError):
        estimator.fit(X)
    _assert_unfitted(estimator, X)
    estimator.set_params(contamination=0.1).fit(X)
    assert np.isfinite(estimator.score_samples(X)).all()


@pytest.mark.parametrize("name", NAMES)
def test_diverged_refit_leaves_the_estimator_unfitted(name, X):
    estimator = TINY[name](random_state=0).fit(X)
    if name == "SeedEnsembleDetector":
        estimator.set_params(estimator__lr=1e4)
    else:
        estimator.set_params(lr=1e4)
    with pytest.raises(TrainingDivergedError):
        estimator.fit(X)
    _assert_unfitted(estimator, X)


def test_refit_starts_from_no_fitted_state(X):
    # A refit with fewer OMASGAN stages keeps none of the networks of the earlier, longer fit.
    detector = TINY["OMASGANDetector"](random_state=0).fit(X)
    detector._scratch_ = "from the first fit"
    detector.set_params(stop_after="task1").fit(X)
    assert not hasattr(detector, "_scratch_")
    assert detector.anomaly_discriminator_ is None and detector.retrained_critic_ is None


# -------------------------------------------------------------------------------- divergence guard
def test_autoencoder_with_an_absurd_learning_rate_raises():
    # The case: lr=1e3 ended with a training loss of 2.3e28 and no warning.
    X = np.random.RandomState(0).normal(size=(1000, 10))
    with pytest.raises(TrainingDivergedError, match="AutoEncoderDetector training diverged in epoch 1: loss term "
                                                    "'train_loss' reached .*lower the learning rate lr"):
        AutoEncoderDetector(lr=1e3, max_epochs=20, random_state=0).fit(X)
    with pytest.raises(TrainingDivergedError, match="member with random_state=.*AutoEncoderDetector"):
        SeedEnsembleDetector(AutoEncoderDetector(lr=1e3, max_epochs=20), n_estimators=2, random_state=0).fit(X)


def test_growth_over_the_first_epoch_is_flagged(X, monkeypatch):
    # A term that stays below the magnitude bound but grows a million-fold over its first epoch's value.
    from skanomaly.detectors import autoencoder

    calls = {"n": 0}
    original = autoencoder._AutoEncoderNet.train_step_terms

    def growing(self, X, y):
        terms = original(self, X, y)
        calls["n"] += 1
        return {"loss": terms["loss"] * (1.0 if len(self.history) == 1 else 1e7)}

    monkeypatch.setattr(autoencoder._AutoEncoderNet, "train_step_terms", growing)
    monkeypatch.setattr(autoencoder._AutoEncoderNet, "error_terms", ())  # the check of error terms would fire first
    with pytest.raises(TrainingDivergedError, match="in epoch 2: loss term 'train_loss' grew to .* first epoch"):
        TINY["AutoEncoderDetector"](max_epochs=3, random_state=0).fit(X)


@pytest.mark.parametrize("make", [lambda: DeepSVDDDetector(lr=10, random_state=0),
                                  lambda: AutoEncoderDetector(lr=1, random_state=0)], ids=["deep-svdd", "autoencoder"])
def test_an_error_term_that_rises_far_above_its_start_is_a_divergence(make):
    """A too large learning rate raises the reconstruction error (or the distance to the centre) a thousandfold
    within the first epoch, below the magnitude bound; the default learning rate on the same data trains."""
    rows = np.random.RandomState(0).normal(size=(2000, 6))
    with pytest.raises(TrainingDivergedError, match="loss term 'train_loss' reached .* first batch's .* rose instead"):
        make().fit(rows)
    healthy = make().set_params(lr=type(make())().lr).fit(rows)
    assert np.isfinite(healthy.score_samples(rows)).all()


def test_non_finite_training_scores_raise_with_the_remedy(X, monkeypatch):
    monkeypatch.setattr(AutoEncoderDetector, "_score_samples", lambda self, X: np.full(X.shape[0], np.nan))
    with pytest.raises(TrainingDivergedError, match="AutoEncoderDetector training diverged: after epoch 2, the "
                                                    "scores of the training data are not finite.*lr"):
        TINY["AutoEncoderDetector"](random_state=0).fit(X)


@pytest.fixture(scope="module")
def thyroid_normal():
    X, y = load_thyroid(return_X_y=True)
    return X[y == 0][::3]  # every third normal row (613), to keep the adversarial fits at a few seconds


# Defaults and Thyroid presets, with a few epochs: sane fits are never flagged by the guard. (Margins of full
# default-length fits are measured outside the test suite.)
SANE = [
    ("AutoEncoderDetector", {}),
    ("AutoEncoderDetector", {**get_preset("AutoEncoderDetector", "thyroid"), "max_epochs": 5}),
    ("AMADetector", {"max_epochs": 3}),
    ("AMADetector", {**get_preset("AMADetector", "thyroid"), "max_epochs": 3}),
    ("MirroredAEDetector", {"max_epochs": 3}),
    ("MirroredAEDetector", {**get_preset("MirroredAEDetector", "thyroid"), "max_epochs": 3}),
    ("OMASGANDetector", {"task1_epochs": 2, "task2_epochs": 2, "task3_epochs": 2, "j_epochs": 2}),
    ("DeepSVDDDetector", {"max_epochs": 5}),
    ("DeepSVDDDetector", {"objective": "soft-boundary", "radius_warmup_epochs": 2, "max_epochs": 5}),
]


@pytest.mark.parametrize("name, params", SANE, ids=[f"{n}-{i}" for i, (n, _) in enumerate(SANE)])
def test_sane_thyroid_fits_are_not_flagged(name, params, thyroid_normal):
    cls = {"AutoEncoderDetector": AutoEncoderDetector, "AMADetector": AMADetector,
           "MirroredAEDetector": MirroredAEDetector, "OMASGANDetector": OMASGANDetector,
           "DeepSVDDDetector": DeepSVDDDetector}[name]
    params = {"max_epochs": 5, **params} if name == "AutoEncoderDetector" else params
    detector = cls(**params, device="cpu", random_state=0).fit(thyroid_normal)
    assert np.isfinite(detector.score_samples(thyroid_normal)).all()


# ---------------------------------------------------------------------------- AMA, OMASGAN specifics
def test_ama_a_score_is_finite_for_extreme_inputs(X):
    detector = TINY["AMADetector"](random_state=0).fit(X)
    with pytest.raises(ValueError, match="float32 range"):  # beyond what the networks were trained in
        detector.score_samples(np.full((1, X.shape[1]), 1e155))
    extreme = np.vstack([X[:3], np.full((1, X.shape[1]), 1e30), np.full((1, X.shape[1]), -3e38)])
    try:
        scores = detector.score_samples(extreme)
    except TrainingDivergedError:  # allowed: the feature-L1 score itself left float64's range
        return
    assert np.isfinite(scores).all(), scores
    assert scores[3:].max() < scores[:3].min()
    np.testing.assert_array_equal(detector.predict(extreme[3:]), -1)
    # Far into the tail the log tail probability is still resolved: feature-L1 scores 40, 1e3 and 1e100 standard
    # deviations above the training mean get finite, strictly decreasing A-scores.
    far = detector.feature_l1_mean_ + detector.feature_l1_std_ * np.array([40.0, 1e3, 1e100])
    detector._batched = lambda fn, rows: far
    tail = detector._score_samples(np.zeros((3, X.shape[1])))
    assert np.isfinite(tail).all() and tail[0] > tail[1] > tail[2]


def test_omasgan_trains_on_tiny_scale_data(X):
    detector = TINY["OMASGANDetector"](random_state=0, task1_epochs=2, task2_epochs=2).fit(X * 1e-5)
    assert np.isfinite(detector.score_samples(X * 1e-5)).all()


def test_omasgan_rejects_identical_rows():
    with pytest.raises(ValueError, match="training data has no spread"):
        TINY["OMASGANDetector"](random_state=0).fit(np.ones((50, 3)))


# ------------------------------------------------------------------------------------ training output
@pytest.mark.parametrize("name", NAMES)
def test_verbose_output_names_each_stage_without_colour_codes(name, X, capsys):
    if name == "SeedEnsembleDetector":
        estimator = TINY[name](random_state=0).set_params(estimator__verbose=1)
    else:
        estimator = TINY[name](random_state=0, verbose=1)
    estimator.fit(X)
    out = capsys.readouterr().out
    assert "\x1b[" not in out  # pytest's captured stdout is not a terminal
    if name == "OMASGANDetector":
        for i, stage in enumerate(["task1", "task2", "task3", "j"], start=1):
            assert f"OMASGANDetector, stage {i}/4 {stage} (" in out
        for term in ("critic_loss", "generator_loss", "d_distance", "s_scatter", "m_divergence", "j_boundary"):
            assert term in out
    elif name == "SeedEnsembleDetector":
        assert out.count("AutoEncoderDetector: 2 epoch(s) on 120 rows") == 2
    else:
        assert f"{name}: 2 epoch(s) on 120 rows" in out
    history = estimator.estimators_[0].history_ if name == "SeedEnsembleDetector" else estimator.history_
    for column in history.columns:
        if column not in ("stage", "stage_epoch"):
            assert column in out  # every per-epoch term of the history is in the table
    estimator.set_params(**({"estimator__verbose": 0} if name == "SeedEnsembleDetector" else {"verbose": 0}))
    estimator.fit(X)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------------------------------------ interrupts
# The child fits each scenario with a long training budget at verbose=1. The parent waits for the heading of
# the stage to interrupt and one epoch row after it, sends one SIGINT, and reads the child's verdict.
_CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import torch
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted
    from skanomaly.detectors import (AMADetector, AutoEncoderDetector, DeepSVDDDetector, MirroredAEDetector,
                                     OMASGANDetector)
    from skanomaly.ensemble import SeedEnsembleDetector

    torch.set_num_threads(1)
    LONG = 10 ** 6
    small = dict(hidden_layer_sizes=(8,), latent_dim=2, batch_size=32, device="cpu", verbose=1, random_state=0)
    critic = dict(critic_hidden_layer_sizes=(8,), n_critic=1)
    stages = dict(task1_epochs=1, task2_epochs=1, task3_epochs=1, j_epochs=1, n_reference=16)
    gan_small = {**{k: v for k, v in small.items() if k != "hidden_layer_sizes"}, "critic_hidden_layer_sizes": (8,)}
    SCENARIOS = {
        "AutoEncoderDetector": lambda: AutoEncoderDetector(max_epochs=LONG, **small),
        "AMADetector": lambda: AMADetector(max_epochs=LONG, **small, **critic),
        "MirroredAEDetector": lambda: MirroredAEDetector(max_epochs=LONG, selection_warmup_epochs=0, **small, **critic),
        "DeepSVDDDetector": lambda: DeepSVDDDetector(objective="soft-boundary", radius_warmup_epochs=1,
                                                     max_epochs=LONG, **small),
        "SeedEnsembleDetector": lambda: SeedEnsembleDetector(
            AutoEncoderDetector(max_epochs=LONG, **{**small, "random_state": None}), n_estimators=3,
            random_state=0),
    }
    for stage in ("task1", "task2", "task3", "j"):
        SCENARIOS["OMASGANDetector-" + stage] = (
            lambda stage=stage: OMASGANDetector(**{**stages, stage + "_epochs": LONG}, **gan_small))

    X = np.random.RandomState(0).normal(size=(64, 4))
    for name in sys.argv[1:]:
        estimator = SCENARIOS[name]()
        print("SCENARIO", name, flush=True)
        try:
            estimator.fit(X)
            verdict = "returned"
        except KeyboardInterrupt:
            leftover = [a for a in vars(estimator) if a.endswith("_") and not a.startswith("__")]
            try:
                check_is_fitted(estimator)
                estimator.score_samples(X)
                verdict = "interrupted-but-fitted"
            except NotFittedError:
                verdict = "interrupted-unfitted" if not leftover else "interrupted-leftover:" + ",".join(leftover)
        except BaseException as error:
            verdict = "error:" + type(error).__name__
        print("RESULT", name, verdict, flush=True)
    sys.exit(3)
""")

# scenario -> the heading line after which the SIGINT is sent (once an epoch row follows it)
_INTERRUPTS = {
    "AutoEncoderDetector": "AutoEncoderDetector: ",
    "AMADetector": "AMADetector: ",
    "MirroredAEDetector": "MirroredAEDetector: ",
    "DeepSVDDDetector": "DeepSVDDDetector: ",
    "SeedEnsembleDetector": "AutoEncoderDetector: ",
    "OMASGANDetector-task1": "OMASGANDetector, stage 1/4 task1",
    "OMASGANDetector-task2": "OMASGANDetector, stage 2/4 task2",
    "OMASGANDetector-task3": "OMASGANDetector, stage 3/4 task3",
    "OMASGANDetector-j": "OMASGANDetector, stage 4/4 j",
}
_EPOCH_ROW = re.compile(r"^\s*\d+\s+-?\d")


@pytest.fixture(scope="module")
def interrupt_verdicts():
    """Run every scenario in one child process (one import of torch), one SIGINT each; return the verdicts."""
    names = list(_INTERRUPTS)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, *names], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, env=env)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in child.stdout] + [lines.put(None)],
                     daemon=True).start()
    verdicts, transcript = {}, []
    current, heading_seen, deadline = None, False, time.monotonic() + 240
    try:
        while True:
            if time.monotonic() > deadline:  # also when a fit that missed its SIGINT keeps printing epochs
                raise queue.Empty
            line = lines.get(timeout=max(1.0, deadline - time.monotonic()))
            if line is None:
                break
            transcript.append(line)
            if line.startswith("SCENARIO "):
                current, heading_seen = line.split()[1], False
            elif "RESULT " in line:  # may follow an epoch row that the SIGINT cut before its newline
                _, name, verdict = line[line.index("RESULT "):].split(maxsplit=2)
                verdicts[name] = verdict.strip()
                current = None
            elif current is not None and current not in verdicts:
                if line.startswith(_INTERRUPTS[current]):
                    heading_seen = True
                elif heading_seen and _EPOCH_ROW.match(line):
                    child.send_signal(signal.SIGINT)
                    current = None  # one Ctrl-C per scenario
        returncode = child.wait(timeout=30)
    except queue.Empty:
        child.kill()
        child.wait()
        pytest.fail("the interrupt child stalled; its output:\n" + "".join(transcript[-40:]))
    assert returncode == 3, "".join(transcript[-40:])
    return verdicts, "".join(transcript)


@pytest.mark.parametrize("scenario", list(_INTERRUPTS))
def test_one_sigint_ends_fit_with_keyboard_interrupt_and_leaves_it_unfitted(scenario, interrupt_verdicts):
    verdicts, transcript = interrupt_verdicts
    assert verdicts.get(scenario) == "interrupted-unfitted", transcript[-3000:]
    if scenario == "SeedEnsembleDetector":
        # One Ctrl-C in the first member ends the ensemble's fit: no second member starts.
        block = transcript.split("SCENARIO SeedEnsembleDetector")[1].split("RESULT")[0]
        assert block.count("AutoEncoderDetector: ") == 1
    if scenario.startswith("OMASGANDetector-"):
        stage = scenario.split("-")[1]
        later = {"task1": "stage 2/4", "task2": "stage 3/4", "task3": "stage 4/4", "j": None}[stage]
        block = transcript.split(f"SCENARIO {scenario}")[1].split("RESULT")[0]
        assert later is None or later not in block  # no later stage starts after the interrupt
