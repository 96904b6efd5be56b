"""OMASGANDetector: the four stages, the boundary samples, the score, robustness and the image path.

The contract every detector shares (reproducibility, batch sizes, pickling, images, bad parameters) is checked in
tests/test_contract.py.
"""

import copy
import pickle

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors

from skanomaly.datasets import make_multimodal_2d, make_multimodal_2d_grid
from skanomaly.divergences import DIVERGENCES, get_divergence
from skanomaly.detectors import omasgan
from skanomaly.detectors.omasgan import OMASGANDetector
from skanomaly.exceptions import TrainingDivergedError

# Tiny networks and one epoch per stage: for API checks, not for learning.
TINY = dict(task1_epochs=1, task2_epochs=1, task3_epochs=1, j_epochs=1, critic_hidden_layer_sizes=(8,), latent_dim=2,
            batch_size=32, n_reference=16, device="cpu")

# The 2-D settings of examples/plot_omasgan_boundary.py, with shorter stages.
TOY = dict(latent_dim=2, batch_size=64, lr=1e-3, spectral_norm=False, lambda_r1=0.1, mu=2.0, nu=2.5,
           boundary_reference="data", delta=1.0, task1_epochs=80, task2_epochs=15, task3_epochs=15, j_epochs=120,
           device="cpu", random_state=0)


@pytest.fixture(scope="module")
def toy_data():
    X, _ = make_multimodal_2d(1000, random_state=0)
    return X


@pytest.fixture(scope="module")
def toy_model(toy_data):
    return OMASGANDetector(**TOY).fit(toy_data)


@pytest.fixture(scope="module")
def tiny_model(toy_data):
    return OMASGANDetector(**TINY, random_state=0).fit(toy_data[:200])


def _mean_nn_distance(reference, points):
    return NearestNeighbors(n_neighbors=1).fit(reference).kneighbors(points)[0].mean()


# ------------------------------------------------------------------------------------------ API contract
def test_stage_modules_are_separate_instances(tiny_model):
    networks = [tiny_model.generator_, tiny_model.critic_, tiny_model.boundary_generator_,
                tiny_model.retrained_generator_, tiny_model.retrained_critic_, tiny_model.anomaly_discriminator_]
    assert all(net is not None for net in networks)
    assert len({id(net) for net in networks}) == 6
    parameters = [{id(p) for p in net.parameters()} for net in networks]
    for i in range(6):
        for j in range(i + 1, 6):
            assert not parameters[i] & parameters[j]
    assert tiny_model.boundary_critic_ is None  # frozen Task-1 critic by default


def test_history_has_one_block_per_stage(tiny_model):
    history = tiny_model.history_
    assert list(history["stage"]) == ["task1", "task2", "task3", "j"]
    assert tiny_model.n_epochs_ == 4
    assert {"critic_loss", "generator_loss", "m_divergence", "d_distance", "s_scatter", "j_boundary"} <= set(history)
    assert history.loc[history.stage == "task2", "critic_loss"].isna().all()
    assert history.loc[history.stage == "task2", ["m_divergence", "d_distance", "s_scatter"]].notna().all().all()


@pytest.mark.parametrize("stop_after, stages", [("task1", ["task1"]), ("task2", ["task1", "task2"]),
                                                 ("task3", ["task1", "task2", "task3"])])
def test_stop_after_trains_the_stages_and_picks_the_score(toy_data, tiny_model, stop_after, stages):
    det = OMASGANDetector(**TINY, random_state=0, stop_after=stop_after).fit(toy_data[:200])
    assert list(det.history_["stage"]) == stages
    assert (det.boundary_generator_ is None) == (stop_after == "task1")
    assert (det.retrained_critic_ is None) == (stop_after != "task3")
    assert det.anomaly_discriminator_ is None
    X = toy_data[:50]
    # Stages run in order with the same seeds, so the ablation's networks equal the full model's.
    critic = tiny_model.retrained_critic_ if stop_after == "task3" else tiny_model.critic_
    with torch.no_grad():
        expected = det.divergence_.per_sample_term(critic(torch.tensor(X)).squeeze(1)).numpy()
    np.testing.assert_allclose(det.score_samples(X), expected, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("stop_after", ["task1", "task3"])
def test_ablation_scores_equal_the_refitted_ablations(toy_data, tiny_model, stop_after):
    X = toy_data[:50]
    ablations = tiny_model.ablation_scores(X)
    assert list(ablations.columns) == ["stop_after=task1", "stop_after=task3", "lambda_fd=0.0"]
    refitted = OMASGANDetector(**TINY, random_state=0, stop_after=stop_after).fit(toy_data[:200])
    np.testing.assert_array_equal(ablations[f"stop_after={stop_after}"].to_numpy(), refitted.score_samples(X))
    expected = ["stop_after=task1"] if stop_after == "task3" else []
    assert list(refitted.ablation_scores(X).columns) == expected


def test_ablation_scores_give_the_anomaly_discriminator_alone(toy_data, tiny_model):
    X = toy_data[:50]
    column = tiny_model.ablation_scores(X)["lambda_fd=0.0"].to_numpy()
    refitted = OMASGANDetector(**TINY, random_state=0, lambda_fd=0.0).fit(toy_data[:200])
    np.testing.assert_array_equal(column, refitted.score_samples(X))
    np.testing.assert_allclose(column, -tiny_model.score_terms(X)["J"].to_numpy())
    assert not np.allclose(column, tiny_model.score_samples(X))  # the fD term does change the score
    assert "lambda_fd=0.0" not in refitted.ablation_scores(X).columns


@pytest.mark.parametrize("divergence", DIVERGENCES)
def test_every_divergence_trains(toy_data, divergence):
    det = OMASGANDetector(**TINY, divergence=divergence, random_state=0).fit(toy_data[:100])
    assert det.divergence_.name == divergence
    expected_boundary = "kl" if divergence == "klwgan" else divergence
    assert det.boundary_divergence_.name == expected_boundary
    assert np.all(np.isfinite(det.score_samples(toy_data[:20])))


def test_trained_boundary_critic(toy_data):
    det = OMASGANDetector(**TINY, boundary_critic="train", boundary_divergence="gan", lambda_r1=0.1, mu=1.0,
                          random_state=0).fit(toy_data[:100])
    assert det.boundary_critic_ is not None and det.boundary_critic_ is not det.critic_
    assert det.history_.loc[det.history_.stage == "task2", "boundary_critic_loss"].abs().gt(0).all()
    assert det.boundary_samples(4).shape == (4, 2)


def test_full_score_is_minus_standardised_sum(tiny_model, toy_data):
    X = toy_data[:60]
    terms = tiny_model.score_terms(X)
    np.testing.assert_allclose(tiny_model.score_samples(X), -(terms["J"] + tiny_model.lambda_fd * terms["fD"]))
    # Standardised on the training data.
    train_terms = tiny_model.score_terms(toy_data[:200])
    np.testing.assert_allclose(train_terms.mean(), 0.0, atol=1e-8)
    np.testing.assert_allclose(train_terms.std(ddof=0), 1.0, rtol=1e-6)


def test_same_random_state_same_boundary_samples(tiny_model, toy_data):
    again = OMASGANDetector(**TINY, random_state=0).fit(toy_data[:200])
    np.testing.assert_array_equal(again.boundary_samples(20), tiny_model.boundary_samples(20))
    other = OMASGANDetector(**TINY, random_state=1).fit(toy_data[:200])
    assert not np.allclose(other.boundary_samples(20), tiny_model.boundary_samples(20))


def test_sampling_shapes_and_determinism(tiny_model):
    B = tiny_model.boundary_samples(13)
    assert B.shape == (13, 2) and B.dtype == np.float64
    np.testing.assert_array_equal(B, tiny_model.boundary_samples(13))  # random_state=0 fixes the codes
    assert not np.allclose(tiny_model.boundary_samples(13, random_state=1), B)
    np.testing.assert_array_equal(tiny_model.boundary_samples(13, random_state=5),
                                  tiny_model.boundary_samples(13, random_state=5))
    assert tiny_model.generate(9).shape == (9, 2)
    assert not np.allclose(tiny_model.generate(9), tiny_model.generate(9, network="task1"))
    # Batched sampling does not change the samples (on a copy: the shared fixture stays as fitted).
    np.testing.assert_allclose(copy.deepcopy(tiny_model).set_params(batch_size=4).boundary_samples(13), B, atol=1e-12)
    with pytest.raises(ValueError, match="n_samples"):
        tiny_model.boundary_samples(0)
    with pytest.raises(ValueError, match="network"):
        tiny_model.generate(3, network="B")


def test_sampling_needs_the_stage(toy_data):
    det = OMASGANDetector(**TINY, random_state=0, stop_after="task1").fit(toy_data[:100])
    with pytest.raises(ValueError, match="Task 2"):
        det.boundary_samples(5)
    with pytest.raises(ValueError, match="Task 3"):
        det.generate(5, network="retrained")
    assert det.generate(5).shape == (5, 2)  # "auto" falls back to G
    with pytest.raises(ValueError, match="stop_after='j'"):
        det.score_terms(toy_data[:5])


def test_pickle_round_trip_keeps_the_generators(tiny_model):
    clone = pickle.loads(pickle.dumps(tiny_model))
    np.testing.assert_array_equal(clone.boundary_samples(5), tiny_model.boundary_samples(5))
    np.testing.assert_array_equal(clone.generate(5, network="task1"), tiny_model.generate(5, network="task1"))


# ------------------------------------------------------------------------------------------ loss pieces
@pytest.mark.parametrize("name", DIVERGENCES)
def test_critic_loss_pieces_add_up(name):
    divergence = get_divergence(name)
    generator = torch.Generator().manual_seed(0)
    v_real, v_fake = torch.randn(16, generator=generator), torch.randn(16, generator=generator)
    total = omasgan._critic_loss_positive(divergence, v_real) + omasgan._critic_loss_negative(divergence, v_fake)
    torch.testing.assert_close(total, divergence.critic_loss(v_real, v_fake))


def test_scattering_is_safe_on_collapsed_samples():
    z = torch.randn(8, 2, generator=torch.Generator().manual_seed(0))
    samples = torch.zeros(8, 3, requires_grad=True)  # every sample on the same point
    s = omasgan.scattering(z, samples, eps=1e-3)
    s.backward()
    assert torch.isfinite(s) and torch.isfinite(samples.grad).all()
    d = omasgan.nearest_distance(samples, samples.detach(), eps=1e-3)
    d.backward()
    assert torch.isfinite(d) and torch.isfinite(samples.grad).all()
    assert omasgan.scattering(z[:1], samples[:1], eps=1e-3) == 0


def test_scattering_rewards_spread():
    z = torch.randn(32, 2, generator=torch.Generator().manual_seed(0))
    assert omasgan.scattering(z, 3.0 * z, 1e-3) < omasgan.scattering(z, 0.3 * z, 1e-3)


# ------------------------------------------------------------------------------------------ robustness
def test_nan_loss_raises(toy_data, monkeypatch):
    monkeypatch.setattr(omasgan, "nearest_distance", lambda *args, **kwargs: torch.tensor(float("nan")))
    with pytest.raises(TrainingDivergedError, match="d_distance"):
        OMASGANDetector(**TINY, random_state=0).fit(toy_data[:100])


def test_nan_critic_loss_raises(toy_data, monkeypatch):
    def broken(divergence, v):
        return (v * float("nan")).mean()

    monkeypatch.setattr(omasgan, "_critic_loss_positive", broken)
    with pytest.raises(TrainingDivergedError, match="critic_loss"):
        OMASGANDetector(**TINY, random_state=0).fit(toy_data[:100])


def test_exploding_term_raises(toy_data, monkeypatch):
    monkeypatch.setattr(omasgan, "scattering", lambda z, samples, eps: samples.sum() * 0 + 1e12)
    with pytest.raises(TrainingDivergedError, match="task2.* diverged in epoch 1: loss term 's_scatter' reached"):
        OMASGANDetector(**TINY, random_state=0).fit(toy_data[:100])


def test_runaway_boundary_raises(toy_data, monkeypatch):
    # Boundary samples farther than _EXPLODING_DISTANCE spreads (of the data or the reference points, plus eps)
    # from the reference stop Task 2; a tiny factor makes the ordinary first step trip it.
    monkeypatch.setattr(omasgan, "_EXPLODING_DISTANCE", 1e-6)
    with pytest.raises(TrainingDivergedError, match="task2.* loss term 'd_distance' reached.*Increase mu"):
        OMASGANDetector(**TINY, random_state=0).fit(toy_data[:100])


# ------------------------------------------------------------------------------------------ images
@pytest.mark.parametrize("shape, as_flat", [((1, 28, 28), False), ((3, 32, 32), True)])
def test_images(shape, as_flat):
    rng = np.random.RandomState(0)
    images = rng.rand(24, *shape)
    X = images.reshape(24, -1) if as_flat else images[:, 0]
    params = {**TINY, "batch_size": 8, "n_reference": 8, "base_channels": 4, "latent_dim": 4,
              "out_activation": "sigmoid"}
    det = OMASGANDetector(**params, image_shape=shape if as_flat else None, random_state=0).fit(X)
    assert det.image_shape_ == shape
    scores = det.score_samples(X)
    assert scores.shape == (24,) and np.all(np.isfinite(scores))
    B = det.boundary_samples(5)
    assert B.shape == (5, int(np.prod(shape))) and np.all((B >= 0) & (B <= 1))
    assert det.divergence_.tau == 5.0  # "auto" temperature for images


# ------------------------------------------------------------------------------------------ it learns (2-D)
def test_boundary_lies_between_generated_data_and_noise(toy_model, toy_data):
    X = toy_data
    G = toy_model.generate(1000, network="task1")
    B = toy_model.boundary_samples(1000)
    uniform = np.random.RandomState(0).uniform(X.min(axis=0), X.max(axis=0), size=(1000, 2))
    d_G, d_B, d_U = (_mean_nn_distance(X, P) for P in (G, B, uniform))
    assert d_G < d_B < d_U
    # B surrounds every mode: each mode (ring and four blobs) has boundary samples near it.
    _, mode = make_multimodal_2d(1000, random_state=0)
    to_B = NearestNeighbors(n_neighbors=1).fit(B).kneighbors(X)[0][:, 0]
    assert max(to_B[mode == k].mean() for k in range(5)) < 0.3


def test_full_score_beats_task1_on_grid(toy_model):
    X_grid, y_grid = make_multimodal_2d_grid(50)
    # the Task-1 score of the same fit: equal to a refit with stop_after="task1" (test_ablation_scores_equal_...)
    auc_task1 = roc_auc_score(y_grid, -toy_model.ablation_scores(X_grid)["stop_after=task1"])
    auc_full = roc_auc_score(y_grid, toy_model.anomaly_score(X_grid))
    assert auc_full > 0.92
    assert auc_full > auc_task1


def test_class_defaults_put_the_boundary_between_the_generator_and_noise():
    # Issue 26: OMASGANDetector() as shipped, on the 2-D rings and blobs (the setting where the method works),
    # places B farther from the data than G and nearer than uniform noise over the data's box widened by a
    # quarter of its range, and its full score beats Task 1's on the grid.
    X, _ = make_multimodal_2d(random_state=0)
    det = OMASGANDetector(random_state=0).fit(X)
    rng = np.random.RandomState(0)
    low, high = X.min(axis=0), X.max(axis=0)
    uniform = rng.uniform(low - (high - low) / 4, high + (high - low) / 4, size=(1000, 2))
    nearest = NearestNeighbors(n_neighbors=1).fit(X)
    d_G, d_B, d_U = (np.median(nearest.kneighbors(points)[0])
                     for points in (det.generate(1000, network="task1"), det.boundary_samples(1000), uniform))
    assert d_G < d_B < d_U
    X_grid, y_grid = make_multimodal_2d_grid(100)
    auc_task1 = roc_auc_score(y_grid, -det.ablation_scores(X_grid)["stop_after=task1"])
    assert roc_auc_score(y_grid, det.anomaly_score(X_grid)) > auc_task1


@pytest.mark.parametrize("image_shape, expected", [(None, 1e-3), ((1, 8, 8), 2e-4)])
def test_auto_learning_rate_depends_on_the_networks(image_shape, expected, monkeypatch):
    from skanomaly import base

    rates = []

    def recording(networks, name, lr, **kwargs):
        rates.append(lr)
        return make_optimizer(networks, name, lr=lr, **kwargs)

    make_optimizer = base.make_optimizer
    monkeypatch.setattr(base, "make_optimizer", recording)
    X = np.random.RandomState(0).rand(64, 64)
    det = OMASGANDetector(**TINY, image_shape=image_shape, random_state=0).fit(X)
    assert det.get_params()["lr"] == "auto"
    assert det.net_.hp.lr == expected and det.net_.hp.critic_lr == expected
    assert len(rates) >= 4 and set(rates) == {expected}  # every optimiser of every stage
    rates.clear()
    explicit = OMASGANDetector(**TINY, lr=5e-4, critic_lr=1e-4, random_state=0).fit(X)
    assert explicit.net_.hp.lr == 5e-4 and explicit.net_.hp.critic_lr == 1e-4
    assert set(rates) == {5e-4, 1e-4}


@pytest.mark.slow
def test_full_score_beats_task1_on_grid_heavy():
    # The example's settings on three seeds (a few minutes): the full score wins on every one.
    X, _ = make_multimodal_2d(2000, random_state=0)
    X_grid, y_grid = make_multimodal_2d_grid(100)
    settings = {**TOY, "task1_epochs": 150, "task2_epochs": 30, "task3_epochs": 30, "j_epochs": 150}
    for seed in range(3):
        full = OMASGANDetector(**{**settings, "random_state": seed}).fit(X)
        task1 = OMASGANDetector(**{**settings, "random_state": seed, "stop_after": "task1"}).fit(X)
        auc_full = roc_auc_score(y_grid, full.anomaly_score(X_grid))
        assert auc_full > 0.96
        assert auc_full > roc_auc_score(y_grid, task1.anomaly_score(X_grid))


def test_generator_sizes_are_listed_latent_side_first(toy_data):
    def widths(network):
        return [layer.out_features for layer in network.modules() if isinstance(layer, torch.nn.Linear)]

    params = {**TINY, "critic_hidden_layer_sizes": (6, 9), "stop_after": "task1", "random_state": 0}
    det = OMASGANDetector(**params, decoder_hidden_layer_sizes=(5, 7)).fit(toy_data[:64])
    assert widths(det.generator_) == [5, 7, 2] and widths(det.critic_) == [6, 9, 1]
    # None mirrors the critic: the generator's widths are the critic's, latent side first.
    mirrored = OMASGANDetector(**params).fit(toy_data[:64])
    assert widths(mirrored.generator_) == [9, 6, 2]
