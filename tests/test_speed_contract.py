"""What the speed work must not change: the training batches, memory use at scoring, lazy imports.

That scores depend neither on ``score_batch_size`` nor on the input's float dtype is checked for every detector
in tests/test_contract.py. Speed itself is measured by ``docs/benchmarks/speed/speed_study.py``, never asserted
here.
"""

import subprocess
import sys
import textwrap
import tracemalloc

import numpy as np
import pytest
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from skanomaly import AutoEncoderDetector
from skanomaly.base import DetectorNet, Hyperparameters, _BatchIndexSampler, _IndexedBatches, _RowTensors

TINY = dict(max_epochs=1, batch_size=32, hidden_layer_sizes=(8,), latent_dim=2)


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    return rng.normal(size=(150, 5)), rng.normal(scale=2.0, size=(103, 5))


def test_float32_input_is_not_copied_whole_at_scoring(data):
    det = AutoEncoderDetector(random_state=0, score_batch_size=256, **TINY).fit(data[0])
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


def test_indexed_batches_match_a_dataloader_and_its_random_draws():
    # Training batches skip the DataLoader; the batches and the draws from torch's global generator (one per
    # epoch, a DataLoader's worker seed) must stay those of a DataLoader, or every seeded fit would change.
    X = torch.arange(26.0).reshape(13, 2)
    dataset = _RowTensors(X)

    def epochs(make_iterable):
        torch.manual_seed(0)
        sampler = _BatchIndexSampler(13, 4, shuffle=True, generator=torch.Generator().manual_seed(3))
        out = [[Xb.clone() for Xb, _ in make_iterable(sampler)] for _ in range(3)]
        return out, torch.rand(3)

    fast, after_fast = epochs(lambda sampler: _IndexedBatches(dataset, sampler))
    loader, after_loader = epochs(lambda sampler: DataLoader(dataset, batch_size=None, sampler=sampler))
    assert len(fast) == len(loader) == 3
    for a, b in zip(fast, loader):
        assert len(a) == len(b) == 4 and all(torch.equal(x, y) for x, y in zip(a, b))
    assert torch.equal(after_fast, after_loader)
    net = DetectorNet(torch.nn.Linear(2, 2), hp=Hyperparameters({"lr": 0.1}), batch_size=4).initialize()
    assert isinstance(net.get_iterator(dataset, training=True), _IndexedBatches)
    assert len(net.get_iterator(dataset, training=True)) == 4
    # DataLoader settings (workers, pinned memory) still get a DataLoader
    net = DetectorNet(torch.nn.Linear(2, 2), hp=Hyperparameters({"lr": 0.1}), batch_size=4,
                      iterator_train__num_workers=0).initialize()
    assert isinstance(net.get_iterator(dataset, training=True), DataLoader)


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
