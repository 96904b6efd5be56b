"""Data-parallel training (:func:`skanomaly.data_parallel.fit_data_parallel`, DistributedDataParallel on gloo).

- Two CPU processes, each training on half of every batch, give the model of one process up to rounding.
- In a process group of one, the fit is the plain fit to the bit; the batches of the processes partition the
  batches of one process.
- Detectors that cannot train this way, bad process counts and a missing process group are refused; an error in
  the processes reaches the caller with its own type (slow: it starts processes).
"""

import numpy as np
import pytest
import torch

from skanomaly.base import _BatchIndexSampler
from skanomaly.data_parallel import fit_data_parallel
from skanomaly.detectors import AutoEncoderDetector, DeepSVDDDetector

RNG = np.random.RandomState(0)
X = RNG.rand(256, 6)
X_TEST = RNG.rand(60, 6) * 1.3
PARAMS = {"max_epochs": 3, "hidden_layer_sizes": (8,), "batch_size": 64, "random_state": 0, "device": "cpu"}


@pytest.fixture
def group_of_one(tmp_path):
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0,
                                         world_size=1)
    try:
        yield
    finally:
        torch.distributed.destroy_process_group()


def test_two_processes_train_the_model_of_one():
    single = AutoEncoderDetector(**PARAMS).fit(X)
    parallel = fit_data_parallel(AutoEncoderDetector(**PARAMS), X, n_processes=2)
    # The gradients of two half batches averaged are those of the whole batch, up to float32 rounding.
    np.testing.assert_allclose(parallel.score_samples(X_TEST), single.score_samples(X_TEST), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(parallel.history_["train_loss"], single.history_["train_loss"], rtol=1e-5)
    assert parallel.offset_ == pytest.approx(single.offset_, rel=1e-5)
    assert parallel.n_epochs_ == 3 and parallel.n_features_in_ == 6


def test_a_group_of_one_process_fits_exactly_as_fit(group_of_one, tmp_path):
    single = AutoEncoderDetector(**PARAMS).fit(X)
    np.save(tmp_path / "rows.npy", X)
    for rows in (X, tmp_path / "rows.npy"):
        joined = fit_data_parallel(AutoEncoderDetector(**PARAMS), rows, n_processes=None)
        np.testing.assert_array_equal(joined.score_samples(X_TEST), single.score_samples(X_TEST))
        np.testing.assert_array_equal(joined.history_["train_loss"], single.history_["train_loss"])
    assert not isinstance(joined.net_.module_, torch.nn.parallel.DistributedDataParallel)


@pytest.mark.parametrize("n_rows, batch_size, processes", [(10, 4, 2), (11, 4, 3), (9, 4, 2), (5, 4, 2)])
def test_the_processes_share_every_batch_of_one_process(n_rows, batch_size, processes):
    def batches(shard=None):
        sampler = _BatchIndexSampler(n_rows, batch_size, shuffle=True, generator=torch.Generator().manual_seed(3),
                                     shard=shard)
        return [batch.tolist() for batch in sampler], len(sampler)

    whole, _ = batches()
    shares = [batches((rank, processes, processes)) for rank in range(processes)]
    kept = [batch for batch in whole if len(batch) >= processes]  # a last batch too small to share is left out
    for shared, length in shares:
        assert len(shared) == length == len(kept)
    for index, batch in enumerate(kept):
        assert sum((shared[index] for shared, _ in shares), []) == batch
        assert max(len(s[index]) for s, _ in shares) - min(len(s[index]) for s, _ in shares) <= 1


def test_bad_calls_are_refused():
    with pytest.raises(ValueError, match="DeepSVDDDetector cannot train data-parallel"):
        fit_data_parallel(DeepSVDDDetector(), X)
    with pytest.raises(ValueError, match="n_processes must be a positive int or None"):
        fit_data_parallel(AutoEncoderDetector(), X, n_processes=0)
    with pytest.raises(ValueError, match="no.*process group|there is none"):
        fit_data_parallel(AutoEncoderDetector(), X, n_processes=None)


def test_a_batch_too_small_to_share_is_refused(group_of_one, monkeypatch):
    monkeypatch.setattr(torch.distributed, "get_world_size", lambda *args, **kwargs: 4)
    detector = AutoEncoderDetector(**{**PARAMS, "batch_size": 3})
    with pytest.raises(ValueError, match="batch_size=3 cannot be shared by 4 processes"):
        fit_data_parallel(detector, X, n_processes=None)


@pytest.mark.slow  # starts two processes
def test_an_error_in_the_processes_reaches_the_caller_with_its_type():
    bad = X.copy()
    bad[3, 1] = np.nan
    detector = AutoEncoderDetector(**PARAMS)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        fit_data_parallel(detector, bad, n_processes=2)
    assert not [name for name in vars(detector) if name.endswith("_")]
