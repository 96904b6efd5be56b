"""AMADetector: it learns, every ablation switch changes the training, the negatives, the A-score, semi-supervision.

The contract every detector shares (reproducibility, batch sizes, pickling, images, bad parameters) is checked in
tests/test_contract.py.
"""

import copy
import math

import numpy as np
import pytest
import torch
from scipy.special import log_ndtr
from sklearn.metrics import roc_auc_score

from skanomaly.detectors.ama import AMADetector, _resolve_schedule

# Small and fast: these tests check behaviour, not benchmark quality.
FAST = dict(hidden_layer_sizes=(16,), critic_hidden_layer_sizes=(16,), latent_dim=3, n_critic=1,
            spectral_norm=True, lambda_gp=0.0, batch_size=32, device="cpu")


def _normal_rows(n, seed=0):
    return np.random.RandomState(seed).normal(size=(n, 8))


def _encoder_vector(det):
    return torch.cat([p.detach().flatten() for p in det.net_.module_.encoder.parameters()])


@pytest.fixture(scope="module")
def fitted():
    X = _normal_rows(96)
    return AMADetector(max_epochs=2, atypical_warmup_epochs=0, random_state=0, **FAST).fit(X), X


def test_learns_to_separate_shifted_rows(blobs):
    X_train, X_test, y_test = blobs
    det = AMADetector(max_epochs=8, random_state=0, **{**FAST, "n_critic": 2}).fit(X_train)
    assert roc_auc_score(y_test, det.anomaly_score(X_test)) >= 0.9
    assert roc_auc_score(y_test, det.feature_l1(X_test)) >= 0.9


def test_learns_a_subspace_with_the_mirrored_loss():
    # Normal rows lie near a 2-D plane of R^8; anomalies have the same per-feature spread but leave the plane, so
    # only a model that learned to reconstruct the plane separates them (an untrained one does not).
    rng = np.random.RandomState(0)
    plane = rng.normal(size=(2, 8)) / np.sqrt(2)

    def near_plane(n):
        return rng.normal(size=(n, 2)) @ plane + 0.05 * rng.normal(size=(n, 8))

    X_train = near_plane(400)
    X_test = np.vstack([near_plane(100), rng.normal(size=(100, 8)) * X_train.std(axis=0)])
    y_test = np.r_[np.zeros(100), np.ones(100)]
    mirror_only = dict(atypical_selection=None, n_interp=1, lambda_latent_norm=0.0, lr=1e-3, lr_milestones=(1.0,),
                       latent_dim=3, n_critic=2, random_state=0, device="cpu")
    trained = AMADetector(max_epochs=40, **mirror_only).fit(X_train)
    untrained = AMADetector(max_epochs=1, **mirror_only).fit(X_train)
    assert roc_auc_score(y_test, trained.anomaly_score(X_test)) >= 0.95
    assert roc_auc_score(y_test, untrained.anomaly_score(X_test)) < 0.8
    assert trained.history_["mirror"].iloc[-1] < trained.history_["mirror"].max() / 2


def test_history_records_every_term(fitted):
    det, _ = fitted
    for column in ("train_loss", "critic_loss", "mirror", "interp", "negative", "latent_norm", "gradient_penalty"):
        assert column in det.history_
    assert len(det.history_) == det.n_epochs_ == 2
    # default switches: interpolation and (warm-up 0) synthetic negatives are active, no gradient penalty here
    assert (det.history_["interp"] != 0).all() and (det.history_["negative"] != 0).all()
    assert (det.history_["gradient_penalty"] == 0).all()


@pytest.mark.parametrize(
    "switch, zero_column",
    [
        ({"mirrored": False}, None),
        ({"n_interp": 1}, "interp"),
        ({"n_interp": 2}, None),
        ({"atypical_selection": None}, "negative"),
        ({"atypical_selection": "outward"}, None),
        ({"negative_fraction": None}, None),
        ({"negative_fraction": 0.5}, None),
        ({"shell_radius": "sqrt_dim"}, None),
        ({"lambda_latent_norm": 0.0}, None),
        ({"lambda_gp": 1.0}, None),
        ({"spectral_norm": False}, None),
    ],
)
def test_every_ablation_switch_changes_the_training(fitted, switch, zero_column):
    det, X = fitted
    ablated = AMADetector(max_epochs=2, atypical_warmup_epochs=0, random_state=0, **{**FAST, **switch}).fit(X)
    assert not torch.allclose(_encoder_vector(ablated), _encoder_vector(det))
    assert not np.allclose(ablated.score_samples(X), det.score_samples(X))
    if zero_column is not None:
        assert (ablated.history_[zero_column] == 0).all()


def test_negative_fraction_sets_the_count_and_the_weights_of_the_negatives(fitted):
    det, X = fitted
    net = copy.deepcopy(det.net_)  # changed below: the shared fixture stays as fitted
    rows = torch.zeros(32, X.shape[1], dtype=next(net.module_.parameters()).dtype)
    net.negatives = torch.ones(5, X.shape[1], dtype=rows.dtype)  # known anomalies: drawn at any epoch
    # default 0.1: 4 negatives join 32 normal rows (4 / 36 ~ 0.1), each term weighted by its share
    negatives = net._negatives(rows)
    assert negatives.shape == (4, X.shape[1])
    assert net._shares(32, negatives) == (32 / 36, 4 / 36)
    assert net._shares(32, None) == (1.0, 1.0)  # warm-up: the normal term keeps its full weight
    assert net._n_negatives(1) == 2  # never fewer than 2
    net.hp = net.hp.replace(negative_fraction=None)  # as many negatives as rows, both terms at full weight
    negatives = net._negatives(rows)
    assert negatives.shape == (32, X.shape[1]) and net._shares(32, negatives) == (1.0, 1.0)


@pytest.mark.parametrize("selection", ["inward", "outward"])
@pytest.mark.parametrize("shell_radius", ["sqrt_dim", "median_norm", 0.7])
def test_synthetic_negatives_decode_codes_from_the_shell(fitted, selection, shell_radius):
    det, X = fitted
    net = copy.deepcopy(det.net_)  # changed below: the shared fixture stays as fitted
    width = 0.25
    # warm-up -1: the fitted net keeps no epoch history, and the negatives are drawn as after the warm-up
    net.hp = net.hp.replace(atypical_selection=selection, shell_radius=shell_radius, shell_width=width,
                            atypical_warmup_epochs=-1)
    rows = torch.tensor(X[:40], dtype=next(net.module_.parameters()).dtype)
    codes = []
    net.module_.decoder.register_forward_pre_hook(lambda module, args: codes.append(args[0]))
    net._negatives(rows)
    if shell_radius == "sqrt_dim":
        radius = math.sqrt(det.latent_dim_)
    elif shell_radius == "median_norm":
        with torch.no_grad():
            radius = float(net.module_.encoder(rows).norm(dim=1).median())
    else:
        radius = shell_radius
    low, high = (radius - width, radius) if selection == "inward" else (radius, radius + width)
    norms = codes[-1].norm(dim=1)
    assert codes[-1].shape == (4, det.latent_dim_)  # a tenth of the mixed batch of 40 + 4
    assert torch.all(norms >= low - 1e-6) and torch.all(norms <= high + 1e-6)


def test_warmup_delays_the_synthetic_negatives():
    det = AMADetector(max_epochs=4, atypical_warmup_epochs=2, random_state=0, **FAST).fit(_normal_rows(64))
    negative = det.history_["negative"].to_numpy()
    assert np.all(negative[:2] == 0) and np.all(negative[2:] != 0)


@pytest.mark.parametrize(
    "max_epochs, warmup, milestones",
    [(100, 10, [30, 60, 90]), (10, 1, [3, 6, 9]), (30, 3, [9, 18, 27]), (2, 0, [1, 1, 2])],
)
def test_schedule_scales_with_max_epochs(max_epochs, warmup, milestones):
    assert _resolve_schedule(max_epochs, "auto", (0.3, 0.6, 0.9)) == (warmup, milestones)
    assert _resolve_schedule(max_epochs, 5, (0.5,))[0] == 5


def test_a_score_is_the_two_sided_gaussian_tail_of_the_feature_l1_score(fitted):
    det, X = fitted
    X_new = np.vstack([X[:20], X[:20] + 3.0])
    l1_det = AMADetector(max_epochs=2, atypical_warmup_epochs=0, random_state=0, score_type="feature_l1",
                         **FAST).fit(X)
    l1 = -l1_det.score_samples(X_new)
    # the score type does not change the training: same networks, same feature-L1 scores
    np.testing.assert_array_equal(l1, det.feature_l1(X_new))
    np.testing.assert_allclose(det.feature_l1_mean_, det.feature_l1(X).mean(), rtol=1e-12)
    np.testing.assert_allclose(det.feature_l1_std_, det.feature_l1(X).std(), rtol=1e-12)
    z = np.abs(l1 - det.feature_l1_mean_) / det.feature_l1_std_
    expected = math.log(2.0) + log_ndtr(-z)
    np.testing.assert_allclose(det.score_samples(X_new), expected, rtol=1e-12)
    assert np.all(det.score_samples(X_new) <= 0.0)
    # feature-L1 scores atypically LOW are anomalous for the A-score, but normal for the feature-L1 score
    low = det.feature_l1_mean_ - 4 * det.feature_l1_std_
    assert math.log(2.0) + log_ndtr(-abs(low - det.feature_l1_mean_) / det.feature_l1_std_) < math.log(0.001)


def test_ablation_scores_give_the_other_score_type(fitted):
    det, X = fitted
    column = det.ablation_scores(X)["score_type=feature_l1"].to_numpy()
    refitted = AMADetector(max_epochs=2, atypical_warmup_epochs=0, random_state=0, score_type="feature_l1",
                           **FAST).fit(X)
    np.testing.assert_array_equal(column, refitted.score_samples(X))
    np.testing.assert_array_equal(refitted.ablation_scores(X)["score_type=a_score"].to_numpy(), det.score_samples(X))


def test_semi_supervised_uses_the_known_anomalies():
    # Anomalies: a tight cluster INSIDE the normal cloud, which the unsupervised model cannot flag.
    rng = np.random.RandomState(0)
    centre = np.r_[1.5, 0.0, 0.0, 0.0]

    def normal(n):
        return rng.normal(size=(n, 4))

    def cluster(n):
        return centre + 0.3 * rng.normal(size=(n, 4))

    X_normal, X_known = normal(300), cluster(20)
    X = np.vstack([X_normal, X_known])
    y = np.r_[np.zeros(300), np.ones(20)].astype(int)
    X_test, y_test = np.vstack([normal(100), cluster(100)]), np.r_[np.zeros(100), np.ones(100)]
    # negative_fraction=None: a negative for every normal row, at full weight, to make the known anomalies count
    params = dict(max_epochs=40, lr=1e-3, lr_milestones=(1.0,), atypical_selection=None, latent_dim=2,
                  negative_fraction=None,
                  hidden_layer_sizes=(16,), critic_hidden_layer_sizes=(32,), n_critic=2, random_state=0,
                  device="cpu")

    unsupervised = AMADetector(**params).fit(X_normal)
    semi = AMADetector(semi_supervised=True, **params).fit(X, y)
    # the negatives' term is computed from the known anomalies, from the first epoch, in semi-supervised mode only
    assert (unsupervised.history_["negative"] == 0).all()
    assert (semi.history_["negative"] != 0).all()
    # the known anomalies are not trained on as normal data: the A-score statistics come from the normal rows
    np.testing.assert_allclose(semi.feature_l1_mean_, semi.feature_l1(X_normal).mean(), rtol=1e-12)
    # new rows of the anomalous cluster are flagged by the (two-sided) A-score only with the known anomalies;
    # the critic scores negatives' pairs with reversed orientation, so their feature-L1 scores are atypically LOW
    assert roc_auc_score(y_test, unsupervised.anomaly_score(X_test)) < 0.7
    assert roc_auc_score(y_test, semi.anomaly_score(X_test)) > 0.9
    assert roc_auc_score(y_test, semi.feature_l1(X_test)) < 0.2


def test_y_is_ignored_unless_semi_supervised(fitted):
    det, X = fitted
    y = np.arange(X.shape[0]) % 3
    with_y = AMADetector(max_epochs=2, atypical_warmup_epochs=0, random_state=0, **FAST).fit(X, y)
    np.testing.assert_array_equal(with_y.score_samples(X), det.score_samples(X))


@pytest.mark.parametrize(
    "y, message",
    [
        (None, "needs labels"),
        (np.r_[np.zeros(30), 2 * np.ones(2)], "0 \\(normal\\) and 1"),
        (np.zeros(32), "no anomaly"),
        (np.r_[np.zeros(1), np.ones(31)], "at least 2 normal"),
        (np.zeros(31), "one label per row"),
    ],
)
def test_semi_supervised_label_errors(y, message):
    with pytest.raises(ValueError, match=message):
        AMADetector(semi_supervised=True, max_epochs=1, **FAST).fit(_normal_rows(32), y)


def test_decoder_sizes_are_listed_latent_side_first():
    X = np.random.RandomState(0).rand(40, 12)
    det = AMADetector(latent_dim=3, hidden_layer_sizes=(8,), decoder_hidden_layer_sizes=(5, 7), max_epochs=1,
                      n_critic=1, random_state=0).fit(X)
    widths = [layer.out_features for layer in det.net_.module_.decoder if isinstance(layer, torch.nn.Linear)]
    assert widths == [5, 7, 12]


def test_negatives_stay_out_of_the_batchnorm_statistics_of_the_encoder():
    # The conv encoder's BatchNorm running estimates are what scoring (eval mode) normalises with. Normal rows and
    # negatives share each training batch, so the estimates must stay with the normal data, as they do when
    # the negatives make up a tenth of every batch; in batches of their own they would dominate.
    rng = np.random.RandomState(0)
    normal = rng.rand(64, 1, 28, 28)
    known = 6.0 + rng.rand(16, 1, 28, 28)  # far from the normal images
    X, y = np.vstack([normal, known]), np.r_[np.zeros(64), np.ones(16)].astype(int)
    det = AMADetector(semi_supervised=True, max_epochs=3, base_channels=4, latent_dim=4, n_critic=1,
                      lambda_gp=0.0, batch_size=16, random_state=0, device="cpu").fit(X, y)
    encoder = det.net_.module_.encoder
    norm = next(m for m in encoder.modules() if isinstance(m, torch.nn.BatchNorm2d))
    inputs = []
    hook = norm.register_forward_hook(lambda module, args, out: inputs.append(args[0].mean(dim=(0, 2, 3))))
    dtype = next(encoder.parameters()).dtype
    with torch.no_grad():
        encoder.eval()
        encoder(torch.tensor(normal, dtype=dtype))
        encoder(torch.tensor(known, dtype=dtype))
    hook.remove()
    normal_mean, known_mean = inputs
    running = norm.running_mean
    assert torch.linalg.norm(running - normal_mean) < 0.5 * torch.linalg.norm(running - known_mean)


@pytest.mark.parametrize("sampling, high", [("uniform", 0.5), ("uniform", 0.2), ("dirichlet", 0.5)])
def test_simplex_weights_follow_simplex_sampling_and_interp_high(monkeypatch, sampling, high):
    from skanomaly.detectors import ama

    calls = []
    original = ama.simplex_interpolate
    monkeypatch.setattr(ama, "simplex_interpolate", lambda *a, **k: calls.append(k) or original(*a, **k))
    AMADetector(max_epochs=1, simplex_sampling=sampling, interp_high=high, random_state=0, **FAST).fit(
        _normal_rows(64))
    assert calls and all(call == {"method": sampling, "high": high} for call in calls)
