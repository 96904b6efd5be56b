"""Data-parallel training: one detector trained by several processes, with torch's DistributedDataParallel.

:func:`fit_data_parallel` fits a detector as :meth:`fit` does, with the work of every mini-batch split among the
processes of a :mod:`torch.distributed` group. Every process holds the training rows and draws the same shuffled
batches (the same seeded generator); process ``r`` of ``P`` trains on the ``r``-th of ``P`` nearly equal parts
of each batch, and :class:`~torch.nn.parallel.DistributedDataParallel` averages the gradients before each
optimizer step. When the batch divides evenly, that average is the gradient of the whole batch, so the training
is that of one process up to the rounding of the sums (a last batch with fewer rows than processes is left out).
The recorded loss terms are averaged over the processes too, so every process has the same ``history_`` and
stops together when training diverges.

Two ways to run it:

- ``n_processes=P`` starts ``P`` local processes (``torch.multiprocessing``, spawn) in a gloo group on the
  CPU, each on ``n_threads`` torch threads, and returns the detector fitted by them;
- ``n_processes=None`` joins the process group the caller's script has already set up, e.g. under
  ``torchrun`` on several GPUs or nodes (``torch.distributed.init_process_group("nccl")``; each process then
  uses ``device=f"cuda:{local_rank}"``). Every process returns the same fitted detector.

Only :class:`~skanomaly.detectors.AutoEncoderDetector` trains this way: its step is one forward and backward pass
of one network, which is what DistributedDataParallel synchronises. Deep SVDD calls its encoder and centre
outside the network's forward pass, and the adversarial detectors step several networks with several optimizers
and call them one by one.
"""

import os
import pickle
import tempfile
from numbers import Integral

import numpy as np
import torch

from .base import _DATA_PARALLEL, unfitted_on_failure

__all__ = ["fit_data_parallel"]

_SUPPORTED = ("AutoEncoderDetector",)


def _check_detector(detector):
    name = type(detector).__name__
    if name not in _SUPPORTED:
        raise ValueError(f"{name} cannot train data-parallel: DistributedDataParallel synchronises the gradients of "
                         "one network's forward and backward pass per step, which is AutoEncoderDetector's step; "
                         f"train {name} with fit.")


def _rows(X):
    """Training rows: a path of a ``.npy`` file is memory-mapped, so processes share the page cache."""
    if isinstance(X, (str, os.PathLike)):
        return np.load(os.fspath(X), mmap_mode="r")
    return X


def _fit_in_group(detector, X):
    processes = torch.distributed.get_world_size()
    fewest = processes * (2 if detector.image_shape is not None else 1)  # conv nets hold BatchNorm layers
    if detector.batch_size < fewest:
        raise ValueError(f"batch_size={detector.batch_size} cannot be shared by {processes} processes; use at least "
                         f"{fewest}.")
    token = _DATA_PARALLEL.set(True)
    try:
        return detector.fit(_rows(X))
    finally:
        _DATA_PARALLEL.reset(token)


def _process(rank, n_processes, backend, folder, detector, X):
    torch.distributed.init_process_group(backend, init_method=f"file://{os.path.join(folder, 'rendezvous')}",
                                         rank=rank, world_size=n_processes)
    try:
        _fit_in_group(detector, X)
    except BaseException as error:
        try:
            payload = pickle.dumps(error)
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled reaches the caller as a traceback
            payload = None
        if payload is not None:
            with open(os.path.join(folder, f"error-{rank}.pkl"), "wb") as file:
                file.write(payload)
        raise
    finally:
        torch.distributed.destroy_process_group()
    if rank == 0:
        with open(os.path.join(folder, "fitted.pkl"), "wb") as file:
            pickle.dump(detector, file)


def fit_data_parallel(detector, X, *, n_processes=2, backend="gloo"):
    """Fit ``detector`` on ``X`` with every mini-batch split among processes (DistributedDataParallel).

    Parameters
    ----------
    detector : AutoEncoderDetector
        The detector to fit (in place, as :meth:`fit` does); its ``random_state`` seeds every process alike,
        and ``n_threads`` sets each process's torch threads.
    X : array-like of shape (n_samples, n_features), or str or os.PathLike
        Training rows, or the path of a ``.npy`` file of them, which every process memory-maps (the rows are
        then read from the page cache the processes share, instead of being copied into each).
    n_processes : int or None, default=2
        Local processes to start, in a new process group of ``backend``; ``None`` uses the group the caller
        has initialised (``torchrun``), with this process as one of its members.
    backend : str, default="gloo"
        :mod:`torch.distributed` backend of the local processes: ``"gloo"`` on CPUs, ``"nccl"`` for one GPU
        per process (set ``device`` to each process's GPU in that case, which this function cannot do for
        local processes: use ``torchrun`` and ``n_processes=None``).

    Returns
    -------
    detector : AutoEncoderDetector
        The fitted detector, as the process of rank 0 fitted it (every process ends with the same networks).

    Raises
    ------
    ValueError
        If the detector cannot train data-parallel, ``n_processes`` is not a positive int or None, the batch
        is smaller than the number of processes (twice it with conv nets), or ``n_processes=None`` and no
        process group is initialised.
    Exception
        Whatever the fit raised in the processes (bad input, a divergence), with its own type.

    Notes
    -----
    With ``n_processes=P``, the detector and ``X`` (unless it is a path) are pickled to every process, which
    starts Python, imports torch and skanomaly and joins the group: seconds before the first step. Call it
    under ``if __name__ == "__main__":`` in a script, as every use of spawned processes requires.
    """
    _check_detector(detector)
    if n_processes is None:
        if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
            raise ValueError("n_processes=None joins an initialised torch.distributed process group, and there is "
                             "none: call torch.distributed.init_process_group first (torchrun sets up its "
                             "environment), or give n_processes.")
        return _fit_in_group(detector, X)
    if not isinstance(n_processes, Integral) or isinstance(n_processes, bool) or n_processes < 1:
        raise ValueError(f"n_processes must be a positive int or None, got {n_processes!r}.")
    detector._validate_params()
    with unfitted_on_failure(detector), tempfile.TemporaryDirectory(prefix="skanomaly-ddp-") as folder:
        try:
            torch.multiprocessing.start_processes(_process, args=(int(n_processes), backend, folder, detector, X),
                                                  nprocs=int(n_processes), join=True, start_method="spawn")
        except torch.multiprocessing.ProcessRaisedException as failure:
            for rank in range(int(n_processes)):  # the error of the lowest rank that recorded one, with its type
                error_path = os.path.join(folder, f"error-{rank}.pkl")
                if os.path.exists(error_path):
                    with open(error_path, "rb") as file:
                        raise pickle.load(file) from failure
            raise
        with open(os.path.join(folder, "fitted.pkl"), "rb") as file:
            fitted = pickle.load(file)
        vars(detector).update(vars(fitted))
    return detector
