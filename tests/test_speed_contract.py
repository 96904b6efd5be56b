"""What the speed work must not change: scores, the training batches, memory use at scoring, lazy imports.

Speed itself is measured by ``docs/benchmarks/speed/speed_study.py``, never asserted here.
"""

import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

from skanomaly import (
    AMADetector,
    AutoEncoderDetector,
    DeepSVDDDetector,
    MirroredAEDetector,
    OMASGANDetector,
)
from skanomaly.base import DetectorNet, Hyperparameters, _BatchIndexSampler, _RowTensors

TINY = {
    AMADetector: dict(max_epochs=1, batch_size=32, hidden_layer_sizes=(8,), critic_hidden_layer_sizes=(8,),
                      latent_dim=2, n_critic=1),
    AutoEncoderDetector: dict(max_epochs=1, batch_size=32, hidden_layer_sizes=(8,), latent_dim=2),
    DeepSVDDDetector: dict(max_epochs=1, batch_size=32, hidden_layer_sizes=(8,), latent_dim=2),
    MirroredAEDetector: dict(max_epochs=1, batch_size=32, hidden_layer_sizes=(8,), critic_hidden_layer_sizes=(8,),
                             latent_dim=2, warmup_epochs=0, n_critic=1),
    OMASGANDetector: dict(task1_epochs=1, task2_epochs=1, task3_epochs=1, j_epochs=1, hidden_layer_sizes=(8,),
                          latent_dim=2, batch_size=32, n_reference=16),
}


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(150, 5)), rng.normal(scale=2.0, size=(103, 5))


@pytest.fixture(scope="module", params=list(TINY), ids=lambda cls: cls.__name__)
def fitted(request, data):
    return request.param(random_state=0, **TINY[request.param]).fit(data[0])


def test_scores_do_not_depend_on_score_batch_size(fitted, data):
    X = data[1]
    assert fitted.get_params()["score_batch_size"] == 4096
    reference = fitted.score_samples(X)
    assert reference.dtype == np.float64
    try:
        for score_batch_size in (1, 7, 64):
            fitted.set_params(score_batch_size=score_batch_size)
            # float64 products of different batch shapes may differ in the last bit, never more
            np.testing.assert_allclose(fitted.score_samples(X), reference, rtol=1e-12, atol=1e-12)
            ablations = fitted.ablation_scores(X)
            fitted.set_params(score_batch_size=4096)
            np.testing.assert_allclose(fitted.ablation_scores(X).to_numpy(), ablations.to_numpy(), rtol=1e-12,
                                       atol=1e-12)
    finally:
        fitted.set_params(score_batch_size=4096)


def test_float32_input_scores_like_its_float64_values(fitted, data):
    X32 = data[1].astype(np.float32)
    np.testing.assert_array_equal(fitted.score_samples(X32), fitted.score_samples(X32.astype(np.float64)))


@pytest.mark.parametrize("bad", [0, 1.5, "big"])
def test_score_batch_size_is_validated(data, bad):
    with pytest.raises(ValueError, match="score_batch_size"):
        AutoEncoderDetector(score_batch_size=bad, **TINY[AutoEncoderDetector]).fit(data[0])


def test_float32_input_is_not_copied_whole_at_scoring(data):
    det = AutoEncoderDetector(random_state=0, score_batch_size=256, **TINY[AutoEncoderDetector]).fit(data[0])
    X32 = np.random.RandomState(1).normal(size=(40_000, 5)).astype(np.float32)
    validated = det._validate_X(X32, reset=False)
    assert validated.dtype == np.float32 and np.shares_memory(validated, X32)
    tracemalloc.start()
    try:
        det.score_samples(X32)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A float64 copy of X32 would be 1.6 MB; the float64 scores themselves take 0.32 MB.
    assert peak < X32.size * 8 / 2


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("n_samples, batch_size", [(103, 32), (96, 32), (5, 8)])
def test_training_batches_are_those_of_torchs_samplers(n_samples, batch_size, drop_last):
    expected_generator = torch.Generator().manual_seed(7)
    sampler = _BatchIndexSampler(n_samples, batch_size, shuffle=True, generator=torch.Generator().manual_seed(7),
                                 drop_last=drop_last)
    reference = BatchSampler(RandomSampler(range(n_samples), generator=expected_generator), batch_size, drop_last)
    for _ in range(3):  # epochs: the generator must stay in step
        batches = list(sampler)
        assert all(isinstance(batch, torch.Tensor) and batch.dtype == torch.int64 for batch in batches)
        assert [batch.tolist() for batch in batches] == list(reference)
        assert len(sampler) == len(batches)
    ordered = _BatchIndexSampler(n_samples, batch_size, drop_last=drop_last)
    expected = list(BatchSampler(SequentialSampler(range(n_samples)), batch_size, drop_last))
    assert [batch.tolist() for batch in ordered] == expected


def test_net_indexes_each_training_batch_once():
    X = np.arange(24, dtype=np.float32).reshape(12, 2)
    net = DetectorNet(torch.nn.Linear(2, 2), hp=Hyperparameters({"lr": 0.1}), batch_size=5,
                      iterator_train__shuffle=True,
                      iterator_train__generator=torch.Generator().manual_seed(0)).initialize()
    dataset = net.get_dataset(X)
    assert isinstance(dataset, _RowTensors) and np.shares_memory(dataset.X.numpy(), X)
    batches = list(net.get_iterator(dataset, training=True))
    assert [len(Xb) for Xb, _ in batches] == [5, 5, 2]
    rows = torch.cat([Xb for Xb, _ in batches])
    assert sorted(rows[:, 0].tolist()) == X[:, 0].tolist()


def _imported_modules(code):
    script = textwrap.dedent(code) + "\nimport sys\nprint(' '.join(sorted(sys.modules)))\n"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_import_skanomaly_is_lazy():
    modules = _imported_modules("import skanomaly")
    assert not {"torch", "sklearn", "scipy.stats", "skanomaly.detectors.omasgan", "skanomaly.base"} & modules


def test_listing_datasets_imports_neither_sklearn_nor_torch():
    modules = _imported_modules("import skanomaly.datasets as d; d.get_data_home(); d.DATA_HOME_ENV")
    assert not {"torch", "sklearn", "scipy"} & modules


def test_a_detector_imports_only_its_module():
    modules = _imported_modules("from skanomaly import AutoEncoderDetector")
    assert "skanomaly.detectors.autoencoder" in modules
    assert not {"skanomaly.detectors.omasgan", "skanomaly.detectors.ama", "skanomaly.detectors.mirrored_ae"} & modules


def test_lazy_names_resolve_and_are_listed():
    import skanomaly
    import skanomaly.datasets
    import skanomaly.detectors
    import skanomaly.nn

    for package in (skanomaly, skanomaly.datasets, skanomaly.detectors, skanomaly.nn):
        for name in package.__all__:
            assert getattr(package, name) is not None
            assert name in dir(package)
        with pytest.raises(AttributeError, match="no_such_name"):
            package.no_such_name
    assert skanomaly.AutoEncoderDetector is AutoEncoderDetector
    assert {"metrics", "model_selection", "datasets"} <= set(dir(skanomaly))
    assert skanomaly.metrics.ANOMALY_SCORERS
