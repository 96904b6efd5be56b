"""Shared machinery of every skanomaly detector.

Three classes live here:

- :class:`BaseDetector`, the scikit-learn face of a detector (``OutlierMixin`` + ``BaseEstimator``): parameter
  validation, input checks, seeding, device choice, batched float64 scoring, ``offset_`` and ``predict``.
- :class:`DetectorNet`, a :class:`skorch.NeuralNet` subclass that runs the training loop of a detector: every
  loss term of a step is recorded per batch and averaged per epoch, a divergence guard stops training with a
  :class:`~skanomaly.exceptions.TrainingDivergedError` (non-finite, huge or exploding loss terms), a
  ``KeyboardInterrupt`` ends ``fit`` instead of being swallowed by skorch, and ``verbose`` shows the stage being
  trained, skorch's epoch log (without colour codes when the output is not a terminal) and a progress bar.
- :class:`Hyperparameters`, how a net receives the detector's hyperparameters: the detector's ``get_params()``
  with the values ``fit`` resolves laid over, read-only. A net declares no hyperparameter of its own, so there
  is one default for each, the detector's.

The torch-level pieces of a step (:func:`~skanomaly.nn.frozen`, :func:`~skanomaly.nn.make_optimizer`,
:func:`~skanomaly.nn.no_grad_batches`) are in :mod:`skanomaly.nn.training`.

A fit is atomic: when it raises (divergence, bad data found late, an interrupt), the estimator is left with no
fitted attribute at all, so scoring raises :class:`~sklearn.exceptions.NotFittedError` instead of using a broken
or an older model.

A detector *holds* its fitted net (``net_``) instead of inheriting from skorch, because a skorch net is not a
scikit-learn estimator in the sense of ``check_estimator`` (its ``__init__`` builds callbacks, it has no
``_parameter_constraints``, ...).
"""

import contextvars
import functools
import math
import sys
import types
from abc import ABCMeta, abstractmethod
from collections.abc import Mapping
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import pandas as pd
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EpochTimer, PassthroughScoring, PrintLog, ProgressBar
from skorch.dataset import unpack_data
from skorch.history import History
from torch.utils.data import DataLoader
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted, validate_data

from .exceptions import TrainingDivergedError
from .nn.parametrizations import freeze_parametrizations
from .nn.training import make_optimizer, no_grad_batches
from .utils import resolve_device, resolve_latent_dim, seeded, torch_threads

__all__ = ["BaseDetector", "DetectorNet", "DivergenceGuard", "Hyperparameters", "unfitted_on_failure"]


class _FitInterrupted(BaseException):
    """Carries a ``KeyboardInterrupt`` past skorch's ``partial_fit``, which would swallow it."""


def _is_fitted_name(name):
    """Whether ``name`` is a fitted attribute as :func:`~sklearn.utils.validation.check_is_fitted` sees it."""
    return name.endswith("_") and not name.startswith("__")


def _drop_attributes(estimator, keep):
    for name in list(vars(estimator)):
        if _is_fitted_name(name) or name not in keep:
            delattr(estimator, name)


@contextmanager
def unfitted_on_failure(estimator):
    """Make a ``fit`` atomic: start from no fitted state, and leave none behind when the block raises.

    On entry every fitted attribute (a name ending in ``_``) of an earlier fit is removed, so a refit never
    mixes the old model with new parameters. When the block raises anything (an error, a divergence, a
    ``KeyboardInterrupt``), every fitted attribute and every other attribute the block created is removed
    before the exception propagates: ``check_is_fitted`` then fails and scoring raises ``NotFittedError``.

    Parameters
    ----------
    estimator : object
        The estimator being fitted.
    """
    keep = {name for name in vars(estimator) if not _is_fitted_name(name)}
    _drop_attributes(estimator, keep)
    try:
        yield
    except BaseException:
        _drop_attributes(estimator, keep)
        raise


def _stdout_is_terminal():
    stream = sys.stdout
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced by an object without isatty, or closed
        return False


def _print_flushed(text):
    print(text, flush=True)


def _mean_square(X, chunk=4096):
    """Mean of the squared values of 2-D array-like ``X`` in float64, computed a chunk of rows at a time."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    if not hasattr(X, "shape") or len(X.shape) == 0 or X.shape[0] == 0:
        return 0.0
    total = 0.0
    for rows in gen_batches(X.shape[0], chunk):
        total += float(np.square(np.asarray(X[rows], dtype=np.float64)).sum())
    return total / max(1, int(np.prod(X.shape)))


class DivergenceGuard(Callback):
    """Stop a :class:`DetectorNet`'s training with :class:`~skanomaly.exceptions.TrainingDivergedError`.

    Watches ``train_loss`` and every term of the net's ``loss_terms``:

    - a non-finite value in any batch stops at once;
    - a batch value whose magnitude exceeds ``max_magnitude`` times the data's unit stops at once;
    - from the second epoch on, an epoch mean whose magnitude exceeds ``max_growth`` times that of the first
      epoch (or the unit, whichever is larger) stops at the end of the epoch;
    - a term of the net's ``error_terms`` (a non-negative error that training lowers, such as a reconstruction
      error or a distance to a centre) whose batch value exceeds ``max_error_growth`` times its value on the
      first batch, before any update (or the unit, whichever is larger), stops at once: healthy training never
      raises such a term a thousandfold, while a too large learning rate does so within the first epoch.

    The unit is ``max(1, mean(X ** 2))`` of the training data: squared-error terms scale with the square of the
    data, so data on a large scale is not flagged for its scale alone, and terms of data on a tiny scale are
    judged against 1. The error names the detector, the stage, the epoch, the term and the remedy the
    detector gives (its own parameter names).

    A training that :meth:`BaseDetector.partial_fit` continues is one training: every call after the first
    compares with the first call's first batch and first epoch, and the unit is the largest of the calls' units.

    Parameters
    ----------
    max_magnitude : float, default=1e10
        Bound on any batch value of a loss term, in units of the data's mean square (at least 1).
    max_growth : float, default=1e6
        Bound on the growth of an epoch mean over the first epoch's.
    max_error_growth : float, default=1e3
        Bound on the growth of an error term over its first batch's value (or the unit, whichever is larger).
    """

    def __init__(self, max_magnitude=1e10, max_growth=1e6, max_error_growth=1e3):
        self.max_magnitude = max_magnitude
        self.max_growth = max_growth
        self.max_error_growth = max_error_growth

    def initialize(self):
        self.unit_ = 1.0
        self.first_epoch_ = None
        self.first_errors_ = None
        return self

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if len(net.history) and self.first_errors_ is not None:
            # A training continued by partial_fit keeps the references of its first call: the error before any
            # update and the first epoch's means. The unit grows with data on a larger scale.
            self.unit_ = max(self.unit_, _mean_square(X))
            return
        self.unit_ = max(1.0, _mean_square(X))
        self.first_epoch_ = None
        self.first_errors_ = None

    def _terms(self, net):
        return (*net.loss_terms, "train_loss")  # the named terms first: they say more than their sum

    def on_batch_end(self, net, training=False, **kwargs):
        if not training:
            return
        row = net.history[-1]["batches"][-1]
        limit = self.max_magnitude * self.unit_
        for name in self._terms(net):
            value = row.get(name)
            if value is None:
                continue
            if not math.isfinite(value):
                raise net.divergence_error(name, f"became {value}")
            if abs(value) > limit:
                raise net.divergence_error(
                    name, f"reached {value:.3g}, beyond the bound {limit:.3g} ({self.max_magnitude:.0e} x "
                    "max(1, mean square of the training data))")
        errors = {name: abs(row[name]) for name in net.error_terms if name in row}
        if self.first_errors_ is None:
            self.first_errors_ = errors
            return
        for name, value in errors.items():
            first = self.first_errors_.get(name, 0.0)
            bound = self.max_error_growth * max(first, self.unit_)
            if value > bound:
                raise net.divergence_error(
                    name, f"reached {value:.3g} in a batch, more than {self.max_error_growth:.0e} x max(its first "
                    f"batch's {first:.3g}, max(1, mean square of the training data) = {self.unit_:.3g}); an error "
                    "that training lowers rose instead")

    def on_epoch_end(self, net, **kwargs):
        row = net.history[-1]
        values = {name: abs(float(row[name])) for name in self._terms(net) if name in row}
        if self.first_epoch_ is None:
            self.first_epoch_ = values
            return
        for name, value in values.items():
            reference = max(self.first_epoch_.get(name, 0.0), self.unit_)
            if value > self.max_growth * reference:
                raise net.divergence_error(
                    name, f"grew to {row[name]:.3g} (epoch mean), more than {self.max_growth:.0e} x its first "
                    f"epoch's {self.first_epoch_.get(name, 0.0):.3g}")


class _PhaseHeading(Callback):
    """At ``verbose >= 1``, print which detector and stage is about to train, before skorch's epoch table."""

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        if net.verbose:
            rows = f" on {len(X)} rows" if hasattr(X, "__len__") else ""
            _print_flushed(f"{net.phase_label()}: {net.max_epochs} epoch(s){rows}")


class _RowTensors(torch.utils.data.Dataset):
    """Training rows (and optional targets) held as tensors and indexed one whole batch at a time.

    ``dataset[index]`` takes a 1-D int64 tensor of row numbers and returns ``(X[index], y[index])``, or
    ``(X[index], tensor([0.]))`` without targets (skorch's placeholder). NumPy arrays are wrapped, not copied.
    """

    def __init__(self, X, y=None):
        self.X = _rows_as_tensor(X)
        self.y = None if y is None else _rows_as_tensor(y)
        if self.y is not None and self.y.shape[0] != self.X.shape[0]:
            raise ValueError(f"X has {self.X.shape[0]} rows but y has {self.y.shape[0]}.")

    def __len__(self):
        return self.X.shape[0]

    def __getitem__(self, index):
        return self.X[index], torch.zeros(1) if self.y is None else self.y[index]


def _rows_as_tensor(data):
    if isinstance(data, torch.Tensor):
        return data
    data = np.asarray(data)
    if not data.flags.writeable or not data.flags.c_contiguous:
        data = np.array(data, order="C")  # torch wraps only writeable, C-ordered arrays without a warning
    return torch.from_numpy(data)


class _BatchIndexSampler(torch.utils.data.Sampler):
    """Batches of row numbers as int64 tensors (lists with ``as_lists=True``), one per training step.

    With ``shuffle`` the batches are those of ``BatchSampler(RandomSampler(dataset, generator=generator))``
    for the same generator state, epoch after epoch: one ``randperm`` per epoch cut into batches, plus the
    second ``randperm`` that ``RandomSampler`` draws at the end of each epoch for its (empty) remainder.
    """

    def __init__(self, n_samples, batch_size, *, shuffle=False, generator=None, drop_last=False, as_lists=False,
                 shard=None):
        self.n_samples = n_samples
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator
        self.drop_last = drop_last
        self.as_lists = as_lists
        self.shard = shard

    def __len__(self):
        if self.drop_last:
            return self.n_samples // self.batch_size
        if self.shard is not None and 0 < self.n_samples % self.batch_size < self.shard[2]:
            return self.n_samples // self.batch_size
        return -(-self.n_samples // self.batch_size)

    def __iter__(self):
        n = self.n_samples
        if self.shuffle:
            generator = self.generator
            if generator is None:
                generator = torch.Generator().manual_seed(int(torch.empty((), dtype=torch.int64).random_().item()))
            order = torch.randperm(n, generator=generator)
            torch.randperm(n, generator=generator)
        else:
            order = torch.arange(n)
        stop = n - n % self.batch_size if self.drop_last else n
        for start in range(0, stop, self.batch_size):
            batch = order[start:start + self.batch_size]
            if self.shard is not None:  # (rank, processes, fewest rows): this process's share of every batch
                rank, processes, fewest = self.shard
                if len(batch) < fewest:
                    break  # the last batch, too small to give every process its share
                batch = torch.tensor_split(batch, processes)[rank]
            yield batch.tolist() if self.as_lists else batch


class _IndexedBatches:
    """The batches ``dataset[index]`` for each index tensor of ``sampler``: what a ``DataLoader`` without workers
    yields for a batch sampler, without its per-batch machinery."""

    def __init__(self, dataset, sampler):
        self.dataset = dataset
        self.sampler = sampler

    def __len__(self):
        return len(self.sampler)

    def __iter__(self):
        # A DataLoader draws one number from torch's global generator per epoch (its workers' base seed); the
        # same draw keeps every later draw of a fit (dropout, noise, interpolation weights) where it was.
        torch.empty((), dtype=torch.int64).random_()
        dataset = self.dataset
        for index in self.sampler:
            yield dataset[index]


class Hyperparameters(Mapping):
    """A detector's hyperparameters as its nets read them: read-only, by attribute (``hp.lr``) or key.

    :meth:`BaseDetector._hyperparameters` builds it from the detector's ``get_params(deep=False)``, without the
    run settings every detector shares (``batch_size``, ``device``, ...), and lays over it the values ``fit``
    resolves (an ``"auto"`` latent size as its number, a ``None`` learning rate as the one it stands for).
    Every name is the detector's parameter name.

    Parameters
    ----------
    values : mapping of str to object
    """

    __slots__ = ("_values",)

    def __init__(self, values):
        object.__setattr__(self, "_values", dict(values))

    def __getattr__(self, name):
        try:
            return object.__getattribute__(self, "_values")[name]
        except (KeyError, AttributeError):
            raise AttributeError(f"no hyperparameter {name!r}") from None

    def __setattr__(self, name, value):
        raise AttributeError("Hyperparameters are read-only; replace() makes a changed copy.")

    def __getitem__(self, name):
        return self._values[name]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def __repr__(self):
        return f"Hyperparameters({self._values!r})"

    def __reduce__(self):
        return type(self), (self._values,)

    def replace(self, **changes):
        """A copy with some values changed (names must exist)."""
        unknown = sorted(set(changes) - set(self._values))
        if unknown:
            raise KeyError(f"no hyperparameter(s) {unknown}")
        return type(self)({**self._values, **changes})


class DetectorNet(NeuralNet):
    """skorch net that trains one detector and records every term of its loss.

    Subclasses implement :meth:`train_step_terms` (one optimisation step on a batch, possibly with several
    optimizers) and :meth:`anomaly_score` (per-sample anomaly scores of a batch, higher = more anomalous).
    The networks are one ``module`` (a container ``nn.Module``). The default :meth:`initialize_optimizer` makes
    one optimizer of the whole module (:meth:`make_optimizer`); nets with several optimizers override it and
    create the others under names ending in ``_``, so that skorch tracks their device and state.

    When the networks hold BatchNorm layers, a last training batch of a single row is dropped (BatchNorm cannot
    normalise one row in training mode); a net whose step needs two rows whatever its layers sets the class
    attribute ``drop_single_row_batch = True``.

    Parameters
    ----------
    module : torch.nn.Module
        The container of all networks of the detector.
    hp : Hyperparameters
        The detector's hyperparameters, read by the steps (``self.hp.lr``, ...).
    loss_terms : tuple of str
        Names of the values :meth:`train_step_terms` returns besides ``"loss"``; each is averaged per epoch
        into the history.
    detector_name : str or None, default=None
        Name of the detector this net trains, for messages and the verbose heading.
    phase : str or None, default=None
        Name of the stage this net trains when a detector trains several nets one after another.
    remedy : str or None, default=None
        What to change when training diverges, in the detector's own parameter names.
    data_parallel : bool, default=False
        Train in the process group of :mod:`torch.distributed` (:func:`skanomaly.data_parallel.fit_data_parallel`):
        the module is wrapped in :class:`~torch.nn.parallel.DistributedDataParallel`, every process draws the
        same batches and trains on its share of each, and the loss terms recorded are their means over the
        processes, so every process keeps the same history and stops on the same divergence.
    **kwargs
        Passed to :class:`skorch.NeuralNet` (``max_epochs``, ``batch_size``, ``lr``, ``optimizer``,
        ``device``, ``verbose``, ``iterator_train__generator``, ...).
    """

    drop_single_row_batch = False
    #: Loss terms that are non-negative errors training lowers (``"train_loss"`` for a plain reconstruction
    #: error); :class:`DivergenceGuard` stops training when one rises far above its first batch's value.
    error_terms = ()

    def __init__(self, module, *, hp, loss_terms=(), detector_name=None, phase=None, remedy=None,
                 data_parallel=False, criterion=torch.nn.MSELoss, train_split=None, **kwargs):
        super().__init__(module, criterion=criterion, train_split=train_split, **kwargs)
        self.hp = hp
        self.loss_terms = loss_terms
        self.detector_name = detector_name
        self.phase = phase
        self.remedy = remedy
        self.data_parallel = data_parallel

    def initialize_module(self):
        """skorch's module set-up; with ``data_parallel``, the module wrapped for the process group."""
        super().initialize_module()
        if self.data_parallel:
            device = torch.device(self.device)  # DistributedDataParallel wraps a module already on its device
            self.module_ = torch.nn.parallel.DistributedDataParallel(
                self.module_.to(device), device_ids=[device] if device.type == "cuda" else None)
        return self

    @property
    def _default_callbacks(self):
        # skorch marks the best epoch of each term in colour; colour codes are kept out of files and pipes.
        lower_is_better = True if _stdout_is_terminal() else None
        callbacks = [("epoch_timer", EpochTimer()), ("phase_heading", _PhaseHeading())]
        callbacks += [(name, PassthroughScoring(name=name, lower_is_better=lower_is_better, on_train=True))
                      for name in ("train_loss", *self.loss_terms)]
        # The guard runs after the log, so that the epoch that stopped training is shown.
        callbacks.append(("print_log", PrintLog()))  # prints (and flushes) at verbose >= 1
        callbacks.append(("divergence_guard", DivergenceGuard()))
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def initialize_optimizer(self, triggered_directly=None):
        """One optimizer over every network of the module, with the detector's settings."""
        self.optimizer_ = self.make_optimizer(self.module_)
        return self

    def make_optimizer(self, *networks, lr=None, betas=None):
        """An optimizer of ``networks`` with the detector's settings (:func:`skanomaly.nn.make_optimizer`).

        The settings are the hyperparameters ``optimizer`` (``"adam"`` when the detector has none), ``lr``,
        ``betas``, ``momentum`` and ``weight_decay``; ``lr`` and ``betas`` given here replace the detector's
        (a critic's learning rate, an encoder's betas).

        Parameters
        ----------
        *networks : torch.nn.Module
        lr : float or None, default=None
        betas : pair of float or None, default=None

        Returns
        -------
        optimizer : torch.optim.Optimizer
        """
        hp = self.hp
        return make_optimizer(networks, hp.get("optimizer", "adam"), lr=hp.lr if lr is None else lr,
                              betas=hp.get("betas") if betas is None else betas, momentum=hp.get("momentum", 0.0),
                              weight_decay=hp.get("weight_decay", 0.0))

    def phase_label(self):
        """``"Detector"``, or ``"Detector, stage"`` when the net trains one stage of several."""
        name = self.detector_name or type(self).__name__
        return f"{name}, {self.phase}" if self.phase else name

    def divergence_error(self, term, problem, remedy=None):
        """The :class:`~skanomaly.exceptions.TrainingDivergedError` for loss term ``term`` in this epoch.

        ``remedy`` replaces the net's own (the detector's general advice) for a problem with a specific cause.
        """
        remedy = remedy or self.remedy or "Scale the input (e.g. MinMaxScaler in a Pipeline) or lower the " \
            "learning rate."
        return TrainingDivergedError(
            f"{self.phase_label()} training diverged in epoch {len(self.history)}: loss term {term!r} {problem}. "
            f"{remedy}"
        )

    def on_train_begin(self, net, X=None, y=None, **kwargs):
        """Call :meth:`initialize_training` when a training starts (not when ``partial_fit`` continues one)."""
        if not len(self.history):
            self.initialize_training(X)

    def initialize_training(self, X):
        """Hook: set up what the steps need before the first one, from the training rows ``X`` (Deep SVDD fixes
        its centre); called once per training, not again when :meth:`BaseDetector.partial_fit` continues it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The float32 training rows.
        """

    def fit_loop(self, X, y=None, *args, **kwargs):
        try:
            return super().fit_loop(X, y, *args, **kwargs)
        except KeyboardInterrupt as interrupt:
            raise _FitInterrupted() from interrupt

    def partial_fit(self, X, y=None, classes=None, **fit_params):
        """skorch's ``partial_fit``, except that a ``KeyboardInterrupt`` ends it (skorch would return)."""
        try:
            return super().partial_fit(X, y, classes, **fit_params)
        except _FitInterrupted as interrupt:
            raise KeyboardInterrupt from interrupt.__cause__

    def train_step_terms(self, X, y):
        """Run one optimisation step on a batch and return its loss terms.

        Parameters
        ----------
        X : torch.Tensor of shape (batch_size, n_features)
            The batch, already on the net's device.
        y : torch.Tensor or None
            Batch targets when the detector was fitted with ``y`` (semi-supervised mode), else a placeholder.

        Returns
        -------
        terms : dict of str to torch.Tensor
            ``"loss"`` (the main objective, recorded as ``train_loss``) and every name of ``loss_terms``.
        """
        raise NotImplementedError

    def anomaly_score(self, X):
        """Per-sample anomaly scores of a float64 batch (higher = more anomalous), in eval mode.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features)

        Returns
        -------
        score : torch.Tensor of shape (n_samples,)
        """
        raise NotImplementedError

    def get_dataset(self, X, y=None):
        """Arrays become a :class:`_RowTensors` (one tensor index per batch); other input goes to skorch."""
        if isinstance(X, (np.ndarray, torch.Tensor)) and (y is None or isinstance(y, (np.ndarray, torch.Tensor))):
            return _RowTensors(X, y)
        return super().get_dataset(X, y)

    def get_iterator(self, dataset, training=False):
        """Batches fetched with one tensor index each (skorch's default indexes and collates row by row), straight
        from the rows' tensors unless ``iterator_train__*`` / ``iterator_valid__*`` settings ask for a DataLoader.

        Honours ``iterator_train__shuffle`` / ``__generator`` (seeded shuffling, the batches of torch's
        ``RandomSampler``), ``__drop_last`` and ``batch_size``. A last training batch of a single row is dropped
        when the networks hold BatchNorm layers (BatchNorm cannot normalise one row in training mode) or the net
        sets ``drop_single_row_batch``.
        """
        kwargs = self.get_params_for("iterator_train" if training else "iterator_valid")
        kwargs.pop("batch_size", None)
        shuffle = kwargs.pop("shuffle", False)
        generator = kwargs.pop("generator", None)
        drop_last = kwargs.pop("drop_last", False)
        if training:
            batch_norm = _has_batch_norm(self.module_)
            if batch_norm and self.batch_size < 2:
                raise ValueError(
                    f"batch_size={self.batch_size} is too small for networks with BatchNorm layers; use at least 2."
                )
            single_row = len(dataset) % self.batch_size == 1
            drop_last = drop_last or (single_row and (batch_norm or self.drop_single_row_batch))
        shard = None
        if training and self.data_parallel:
            processes = torch.distributed.get_world_size()
            fewest = processes * (2 if batch_norm or self.drop_single_row_batch else 1)
            shard = (torch.distributed.get_rank(), processes, fewest)
        rows = isinstance(dataset, _RowTensors)
        sampler = _BatchIndexSampler(len(dataset), self.batch_size, shuffle=shuffle, generator=generator,
                                     drop_last=drop_last, as_lists=not rows, shard=shard)
        if rows and not kwargs:  # nothing for a DataLoader to do (no workers, no pinning): index directly
            return _IndexedBatches(dataset, sampler)
        return DataLoader(dataset, batch_size=None, sampler=sampler, **kwargs)

    def train_step(self, batch, **fit_params):
        X, y = unpack_data(batch)
        X = X.to(self.device)
        if isinstance(y, torch.Tensor):
            y = y.to(self.device)
        self._set_training(True)
        terms = self.train_step_terms(X, y)
        values = {name: float(value.detach()) for name, value in terms.items()}
        if self.data_parallel:
            values = _mean_over_processes(values)
        for name in sorted(values, key=lambda name: name == "loss"):  # the named terms first
            value = values[name]
            if not math.isfinite(value):
                raise self.divergence_error("train_loss" if name == "loss" else name, f"became {value}")
        for name in self.loss_terms:
            self.history.record_batch(name, values[name])
        if self.data_parallel:
            return {"loss": torch.tensor(values["loss"])}
        return {"loss": terms["loss"].detach()}


def _mean_over_processes(values):
    """``{name: value}`` averaged over the processes of the :mod:`torch.distributed` group."""
    names = sorted(values)
    total = torch.tensor([values[name] for name in names], dtype=torch.float64)
    if torch.distributed.get_backend() == "nccl":
        total = total.to(torch.device("cuda", torch.cuda.current_device()))
    torch.distributed.all_reduce(total)
    total = total.cpu() / torch.distributed.get_world_size()
    return dict(zip(names, total.tolist()))


# Set by skanomaly.data_parallel while a detector fits in a process group: its nets train data-parallel.
_DATA_PARALLEL = contextvars.ContextVar("skanomaly_data_parallel", default=False)

# Parameters of every detector that set how it runs, not what it learns; they are not handed to the nets.
_RUN_SETTINGS = frozenset({"batch_size", "contamination", "device", "image_shape", "n_threads", "random_state",
                           "score_batch_size", "verbose"})


class _IncrementalMethod:
    """``partial_fit`` where a detector can continue its training on new rows; elsewhere an ``AttributeError``
    that says why, so that ``hasattr(detector, "partial_fit")`` tells tools such as scikit-learn's checks whether
    incremental training is possible (as :func:`sklearn.utils.metaestimators.available_if` does)."""

    def __init__(self, method):
        self.method = method
        functools.update_wrapper(self, method)

    def __get__(self, instance, owner=None):
        owner = type(instance) if instance is not None else owner
        reason = owner._no_partial_fit if instance is None else instance._incremental_training_blocker()
        if reason is not None:
            raise AttributeError(f"{owner.__name__} has no partial_fit: {reason}")
        return self.method if instance is None else types.MethodType(self.method, instance)

    def __call__(self, *args, **kwargs):
        # Reached only through the class __dict__ (documentation tools read the signature from there).
        return self.method(*args, **kwargs)


class OffsetThresholdMixin:
    """``decision_function`` and ``predict`` of an outlier detector from its ``score_samples`` and ``offset_``.

    Shared by :class:`BaseDetector`, :class:`~skanomaly.ensemble.SeedEnsembleDetector` and the benchmarks'
    :class:`~skanomaly.benchmarks.PyODAdapter`: the threshold of :meth:`predict` is ``offset_``, set in ``fit``.
    """

    def decision_function(self, X):
        """Shifted normality score: negative for outliers, positive for inliers.

        ``decision_function(X) = score_samples(X) - offset_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Label each sample: +1 inlier, -1 outlier (``decision_function`` below 0, i.e. below ``offset_``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images

        Returns
        -------
        labels : ndarray of shape (n_samples,) of int
        """
        decision = self.decision_function(X)
        labels = np.ones(decision.shape[0], dtype=int)
        labels[decision < 0] = -1
        return labels


class BaseDetector(OffsetThresholdMixin, OutlierMixin, BaseEstimator, metaclass=ABCMeta):
    """Base class of the skanomaly detectors (scikit-learn outlier-detector contract).

    Subclasses set ``_parameter_constraints`` (extending this class's) and implement :meth:`_fit_networks`,
    which builds and trains the torch networks and sets ``net_`` (a fitted :class:`DetectorNet`). They may
    override :meth:`_score_samples` (default: minus the net's anomaly score) and :meth:`_fit_score_statistics`
    (statistics of the training scores a score needs, e.g. for standardisation).

    Common parameters (every detector has them):

    - ``contamination`` : float in (0, 0.5], the expected outlier share of the *training* data. It only sets
      ``offset_`` (the threshold of :meth:`predict`); it does not change the training.
    - ``batch_size`` : int, the training mini-batch size.
    - ``score_batch_size`` : int, rows per scoring batch (scores do not depend on it; larger is faster and
      needs more memory).
    - ``image_shape`` : ``(C, H, W)`` or None. Set it (or pass 3-D/4-D arrays) to use conv nets on flattened
      images; ``None`` with 2-D data means tabular rows and MLPs.
    - ``device`` : ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    - ``n_threads`` : int or None, torch's CPU threads during ``fit`` and scoring (set and restored around
      them). The default 1 makes a fit and its scores independent of the machine's number of cores; more
      threads can be faster for conv nets, ``None`` takes torch's current setting (its default: one per core),
      and a model fitted with another count may score differently in the last bits, or, for adversarial
      detectors, differently altogether.
    - ``random_state`` : seeds network initialisation, shuffling and sampling inside ``fit`` only.
    - ``verbose`` : 0 silent, 1 the name of each training stage and a table of its loss terms per epoch, 2 also
      a progress bar.

    ``fit`` is atomic: when it raises (a :class:`~skanomaly.exceptions.TrainingDivergedError`, bad data found
    late, a ``KeyboardInterrupt``), no fitted attribute is left, so the detector is unfitted (also after a
    failed refit). Training is guarded against divergence (non-finite, huge or exploding loss terms, and
    non-finite scores of the training data); the error names the detector, the stage, the epoch, the term and
    what to change (:meth:`_divergence_remedy`).
    """

    _parameter_constraints: dict = {
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "score_batch_size": [Interval(Integral, 1, None, closed="left")],
        "image_shape": [tuple, None],
        "device": [str],
        "n_threads": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    # --------------------------------------------------------------------------------------------- fitting
    def fit(self, X, y=None):
        """Fit the detector on (mostly) normal data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or images of shape (n_samples, H, W) or
            (n_samples, C, H, W)
            Training data. DataFrames keep their column names in ``feature_names_in_``.
        y : None
            Ignored by unsupervised detectors; present for API consistency (``Pipeline``, ``GridSearchCV``).

        Returns
        -------
        self : object
            The fitted detector.
        """
        with unfitted_on_failure(self):
            self._fit(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def _fit(self, X, y):
        with torch_threads(self.n_threads):
            X = self._validate_X(X, reset=True)
            self.device_ = resolve_device(self.device)
            seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
            with seeded(seed, self.device_):
                history = self._fit_networks(X, y, seed)
            self.history_ = _history_frame(self.net_.history) if history is None else history
            self.n_epochs_ = len(self.history_)
            _prepare_for_scoring(self.net_)
            try:
                self._fit_score_statistics(X)
                train_scores = self._score_samples(X)
                variant_scores = {name: score(X) for name, score in self._score_variants().items()}
            except TrainingDivergedError as error:
                raise self._scores_diverged(str(error)) from error
            if not np.all(np.isfinite(train_scores)):
                raise self._scores_diverged(f"{int(np.sum(~np.isfinite(train_scores)))} non-finite score(s)")
            self.offset_ = float(np.percentile(train_scores, 100.0 * self.contamination))
            self._fit_support(X, train_scores, variant_scores)

    def _fit_support(self, X, train_scores, variant_scores):
        """Record where the training rows lie and how they score, for :meth:`_guard_far_rows`."""
        self.support_center_ = np.mean(X, axis=0, dtype=np.float64)
        self.support_radius_ = float(np.max(self._support_distances(X, self.support_center_)))
        self.training_score_range_ = {"score_samples": _finite_range(train_scores)}
        self.training_score_range_.update({name: _finite_range(scores) for name, scores in variant_scores.items()})

    # ----------------------------------------------------------------------------------- incremental training
    #: Why the detector cannot train incrementally (a clause completing "... has no partial_fit: "), or None
    #: for a detector whose training is a stream of mini-batch steps that :meth:`partial_fit` can continue.
    _no_partial_fit = ("its training cannot be continued on new rows; train it on all the data with fit, or use "
                       "AutoEncoderDetector, DeepSVDDDetector or MirroredAEDetector(select_best_epoch=False), which "
                       "have partial_fit")

    # The rows of a partial_fit call whose scores set offset_ and training_score_range_, at most.
    _PARTIAL_FIT_SCORED_ROWS = 10_000

    def _incremental_training_blocker(self):
        """Hook: why this detector, with its current parameters, has no ``partial_fit`` (None when it has one)."""
        return type(self)._no_partial_fit

    @_IncrementalMethod
    def partial_fit(self, X, y=None):
        """Train on one more chunk of rows: one epoch over ``X``, continuing the training of earlier calls.

        The first call (on an unfitted detector) builds and initialises the networks as :meth:`fit` does, with
        the same ``random_state``, and fixes ``n_features_in_`` (and ``feature_names_in_``); later calls continue
        with the optimizer's state, the shuffling generator and torch's random state where the previous call
        left them, so that ``k`` calls on the same rows give exactly the model of ``fit`` with
        ``max_epochs=k``, and the same chunks in the same order give the same model. ``max_epochs`` is not
        used: each call trains one epoch over its rows, shuffled, in mini-batches of ``batch_size``. After
        :meth:`fit`, or after :func:`skanomaly.io.load` of a model trained with ``fit``, training continues
        from the fitted networks with a new optimizer state.

        After each call the detector scores like a fitted one:

        - ``offset_`` is the ``100 * contamination`` percentile of the scores of this call's rows under the
          updated model (rows of earlier calls are not kept; of a call with more than 10,000 rows, 10,000
          evenly spaced rows are scored, so that the cost of a call stays that of its epoch); set it from a
          larger held-out stream with :func:`skanomaly.streaming.set_offset_from_stream`;
        - ``support_center_`` is the running mean of every row seen by ``partial_fit``, and ``support_radius_``
          an upper bound of their largest distance from it (the triangle inequality carries the previous bound
          to the moved mean), so that no row seen in training is treated as far from the training data;
          ``training_score_range_`` is the range of the same scores as ``offset_``;
        - ``n_samples_seen_`` counts the rows of every call, ``history_`` has one row per call (its
          ``train_loss`` the mean of the call's batches), ``n_epochs_`` is the number of calls;
        - ``partial_fit_state_`` holds what the next call continues from: the optimizers' state, the shuffling
          generator's and torch's random states, the divergence guard's references. Pickle and
          :func:`skanomaly.io.save` keep it, so a saved model continues exactly where it stopped.

        Each call uses the detector's current parameters: a learning rate changed with ``set_params`` between
        calls applies to the next call; a parameter that shapes the networks may not change.

        The divergence guard treats the calls as one training: an error term that rises 1000-fold above its
        value on the first batch of the first call stops training. A call that raises (bad input, a
        divergence, an interrupt) leaves the detector exactly as it was before the call: the previous model, or
        unfitted after a failed first call. Training runs on ``n_threads`` torch threads, as :meth:`fit`.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or images of shape (n_samples, H, W) or
            (n_samples, C, H, W)
            The chunk, at least 2 rows; the same number of features (and image shape) in every call.
        y : None
            Ignored (present for API consistency, e.g. dask-ml's ``Incremental``).

        Returns
        -------
        self : object
            The updated detector.

        Raises
        ------
        ValueError
            If ``X`` has another number of features than the first call, contains NaN or infinite values, or has
            fewer than 2 rows, or if parameters that shape the networks changed since the first call.
        """
        if not hasattr(self, "net_"):
            with unfitted_on_failure(self):
                self._partial_fit(X, y)
            return self
        previous = dict(vars(self))
        try:
            self._partial_fit(X, y)
        except BaseException:
            vars(self).clear()
            vars(self).update(previous)
            raise
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def _partial_fit(self, X, y):
        first = not hasattr(self, "net_")
        with torch_threads(self.n_threads):
            X = self._validate_X(X, reset=first)
            if X.shape[0] < 2:
                raise ValueError(f"partial_fit needs at least 2 rows per call, got {X.shape[0]}.")
            if first:
                self.device_ = resolve_device(self.device)
                self._resolve_architecture(X)
            net = self._train_one_epoch(np.asarray(X, dtype=np.float32), first)
            self.__dict__.update(self._net_attributes(net))
            self.history_ = _history_frame(net.history)
            self.n_epochs_ = len(self.history_)
            self.partial_fit_state_ = _training_state(net)
            _prepare_for_scoring(net)
            self.net_ = net
            scored = X
            if X.shape[0] > self._PARTIAL_FIT_SCORED_ROWS:  # evenly spaced rows of a large call
                scored = X[np.linspace(0, X.shape[0] - 1, self._PARTIAL_FIT_SCORED_ROWS).astype(np.intp)]
            try:
                self._fit_score_statistics(scored)
                train_scores = self._score_samples(scored)
                variant_scores = {name: score(scored) for name, score in self._score_variants().items()}
            except TrainingDivergedError as error:
                raise self._scores_diverged(str(error)) from error
            if not np.all(np.isfinite(train_scores)):
                raise self._scores_diverged(f"{int(np.sum(~np.isfinite(train_scores)))} non-finite score(s)")
            self.offset_ = float(np.percentile(train_scores, 100.0 * self.contamination))
            self._update_support(X, train_scores, variant_scores)

    def _train_one_epoch(self, X, first):
        """A training net that has trained one more epoch on float32 ``X``, from the state of the previous call."""
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        if first:
            with seeded(seed, self.device_):  # as fit does: build, initialise and train under one seeded state
                net = self._build_networks(max_epochs=1, **self._net_kwargs(seed))
                net.initialize()
                net.partial_fit(X)
                net.random_state_after_training = _random_state(self.device_)
            return net
        state = getattr(self, "partial_fit_state_", None)
        generator = torch.Generator().manual_seed(seed)
        if state is not None:
            generator.set_state(state["shuffle_generator"])
        with torch.random.fork_rng(devices=_cuda_devices(self.device_)):
            # Random initial weights, replaced below; the caller's random state is kept.
            net = self._build_networks(max_epochs=1, **self._net_kwargs(seed, iterator_train__generator=generator))
            net.initialize()
        weights = {key: value.to(torch.float32) if value.is_floating_point() else value
                   for key, value in self.net_.module_.state_dict().items()}
        try:
            net.module_.load_state_dict(weights)
        except RuntimeError as error:
            raise ValueError(
                f"The networks of {type(self).__name__} no longer match the fitted ones: a parameter that shapes "
                f"them changed since the model was trained ({error}). Train a new model with fit or a first "
                "partial_fit.") from None
        net.history_ = History([{**row, "batches": []} for row in self.history_.reset_index().to_dict("records")])
        if state is not None:
            for name, stored in state["optimizers"].items():
                optimizer = getattr(net, name + "_")
                optimizer.load_state_dict(_optimizer_state(stored, optimizer.state_dict()["param_groups"]))
            guard = dict(net.callbacks_)["divergence_guard"]
            guard.unit_ = state["divergence_guard"]["unit"]
            guard.first_epoch_ = _storable(state["divergence_guard"]["first_epoch"])
            guard.first_errors_ = _storable(state["divergence_guard"]["first_errors"])
        with torch.random.fork_rng(devices=_cuda_devices(self.device_)):
            if state is None:
                torch.manual_seed(seed)  # continuing a model trained by fit: a fresh start from random_state
            else:
                _set_random_state(state["random_state"], self.device_)
            net.partial_fit(X)
            net.random_state_after_training = _random_state(self.device_)
        return net

    def _fit_single_net(self, X, seed):
        """The ``_fit_networks`` of a detector that trains one net (``_build_networks``) for ``max_epochs``.

        It uses the hooks of :meth:`partial_fit`: :meth:`_resolve_architecture`, then the net is built, trained
        on float32 ``X``, and :meth:`_net_attributes` read from it.
        """
        self._resolve_architecture(X)
        self.net_ = self._build_networks(max_epochs=self.max_epochs, **self._net_kwargs(seed))
        self.net_.fit(X.astype(np.float32))
        self.__dict__.update(self._net_attributes(self.net_))

    def _resolve_architecture(self, X):
        """Hook: check the parameters and set the fitted sizes that :meth:`_build_networks` reads, from the
        (first) training rows. By default ``latent_dim_``, from ``latent_dim``."""
        self.latent_dim_ = resolve_latent_dim(self.latent_dim, X.shape[1], self.image_shape_)

    def _net_attributes(self, net):
        """Hook: fitted attributes read from a trained net (a centre, a radius, ...), as ``{name: value}``."""
        return {}

    def _update_support(self, X, train_scores, variant_scores):
        """Support of the rows seen by :meth:`partial_fit`: running mean, a bound of the largest distance from it.

        The first call (on an unfitted detector) records what :meth:`_fit_support` records for its rows.
        """
        n_rows = X.shape[0]
        seen = getattr(self, "n_samples_seen_", 0)  # 0 after fit: its rows are covered by the radius bound only
        previous = getattr(self, "support_center_", None)
        mean = np.mean(X, axis=0, dtype=np.float64)
        center = mean if previous is None or seen == 0 else previous + (mean - previous) * (n_rows / (seen + n_rows))
        radius = float(np.max(self._support_distances(X, center)))
        if previous is not None:
            radius = max(radius, self.support_radius_ + float(np.linalg.norm(center - previous)))
        self.support_center_ = center
        self.support_radius_ = radius
        self.n_samples_seen_ = seen + n_rows
        self.training_score_range_ = {"score_samples": _finite_range(train_scores)}
        self.training_score_range_.update({name: _finite_range(scores) for name, scores in variant_scores.items()})

    def _scores_diverged(self, problem):
        return TrainingDivergedError(
            f"{type(self).__name__} training diverged: after epoch {self.n_epochs_}, the scores of the training "
            f"data are not finite (term 'training scores': {problem}). {self._divergence_remedy()}"
        )

    def _divergence_remedy(self):
        """What to change when training diverges, in this detector's parameter names (for error messages)."""
        advice = "Scale the input (e.g. MinMaxScaler in a Pipeline)"
        if "lr" in self.get_params(deep=False):
            advice += f" or lower the learning rate lr (now {self.lr:g})"
        return advice + "."

    @abstractmethod
    def _fit_networks(self, X, y, seed):
        """Build and train the networks on validated float64 ``X``; set ``self.net_``.

        Return ``None`` to take ``history_`` from ``net_``'s history, or a per-epoch DataFrame (e.g. when
        several nets train in stages).
        """

    def _fit_score_statistics(self, X):
        """Hook: compute statistics of the training scores that :meth:`_score_samples` needs."""

    def _check_betas(self, name="betas"):
        """Validated Adam betas parameter ``name``: a pair of floats in [0, 1)."""
        value = getattr(self, name)
        if len(value) != 2 or not all(isinstance(b, Real) and 0 <= b < 1 for b in value):
            raise ValueError(f"{name} must be a pair of floats in [0, 1), got {value!r}.")
        return tuple(float(b) for b in value)

    def _check_layer_sizes(self, name, *, allow_empty=True):
        """Validated layer-width parameter ``name``: a tuple of positive ints (``None`` passes through)."""
        value = getattr(self, name)
        if value is None:
            return None
        if (not allow_empty and len(value) == 0) or not all(
            isinstance(h, Integral) and not isinstance(h, bool) and h >= 1 for h in value
        ):
            raise ValueError(
                f"{name} must be a tuple of positive ints{'' if allow_empty else ' (at least one)'}, got {value!r}."
            )
        return tuple(int(h) for h in value)

    def _hyperparameters(self):
        """The :class:`Hyperparameters` a net of this detector reads: parameters and resolved values."""
        params = {name: value for name, value in self.get_params(deep=False).items() if name not in _RUN_SETTINGS}
        resolved = self._resolved_hyperparameters()
        unknown = sorted(set(resolved) - set(params))
        if unknown:
            raise TypeError(f"{type(self).__name__} resolves {unknown}, which are not among its parameters.")
        return Hyperparameters({**params, **resolved})

    def _resolved_hyperparameters(self):
        """Hook: ``{parameter: value fit resolved}`` (``"auto"`` or ``None`` replaced), from fitted attributes.

        By default the latent size, ``latent_dim_``, when the detector has one.
        """
        return {"latent_dim": self.latent_dim_} if hasattr(self, "latent_dim_") else {}

    def _net_kwargs(self, seed, **overrides):
        """Training settings shared by every :class:`DetectorNet` a detector trains (``hp`` aside)."""
        kwargs = {
            "batch_size": self.batch_size,
            "device": self.device_,
            "verbose": self.verbose,
            "detector_name": type(self).__name__,
            "remedy": self._divergence_remedy(),
            "iterator_train__shuffle": True,
            "iterator_train__generator": torch.Generator().manual_seed(seed),
        }
        if _DATA_PARALLEL.get():
            kwargs["data_parallel"] = True
        kwargs.update(overrides)
        return kwargs

    # --------------------------------------------------------------------------------------------- scoring
    def score_samples(self, X):
        """Normality score of each sample (higher = more normal), as float64.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return self._guard_far_rows(X, self._score_samples(X))

    def ablation_scores(self, X):
        """Normality scores of the ablations that share this fit, one column each (higher = more normal).

        Some ablations change only how a fitted model scores (AMA's feature-L1 score instead of the A-score) or stop
        training earlier in a sequence this fit went through (OMASGAN's ``stop_after``). Their scores come from
        the fitted networks at no extra training cost. Column ``"param=value"`` equals
        ``clone(self).set_params(param=value).fit(X_train).score_samples(X)`` with the same ``random_state``
        (tested); the detector's own setting is not repeated. The benchmark runner records each column as a
        detector of its own, ``"Name[param=value]"``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images

        Returns
        -------
        scores : pandas.DataFrame of shape (n_samples, n_variants)
            Float64 columns; no columns when the detector has no such ablation.
        """
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        return pd.DataFrame({name: self._guard_far_rows(X, score(X), name)
                             for name, score in self._score_variants().items()},
                            index=pd.RangeIndex(X.shape[0]), dtype=np.float64)

    # Rows up to this many times the largest distance of a training row from the training mean keep their score.
    _FAR_ROWS_START = 2.0

    def _support_distances(self, X, center):
        """Euclidean distance of each row of validated ``X`` to ``center``, in float64, a batch at a time."""
        distances = np.empty(X.shape[0], dtype=np.float64)
        for rows in gen_batches(X.shape[0], self.score_batch_size):
            distances[rows] = np.linalg.norm(np.asarray(X[rows], dtype=np.float64) - center, axis=1)
        return distances

    def _guard_far_rows(self, X, scores, name="score_samples"):
        """Scores of rows far outside the training data, capped below every training row's score.

        Networks extrapolate piecewise linearly, in a direction nothing in training controls, so a row far from
        every training row can get any score, also a very normal one. Let ``u`` be a row's distance from the
        training mean divided by the largest such distance of a training row, and ``[lo, hi]`` the range of the
        training scores. Rows with ``u <= 2`` keep their score; beyond, the score is at most
        ``hi - (hi - lo) * (u - 2)``, a cap that falls from the highest training score at ``u = 2`` to the
        lowest at ``u = 3`` and on below it, so that farther rows score lower. Rows that far from the data
        never score as normal as a training row, whatever the networks do there.
        """
        center = getattr(self, "support_center_", None)
        ranges = getattr(self, "training_score_range_", None)
        if center is None or ranges is None or name not in ranges:
            return scores
        ratio = self._support_distances(X, center) / max(self.support_radius_, np.finfo(np.float64).tiny)
        far = ratio > self._FAR_ROWS_START
        if not np.any(far):
            return scores
        low, high = ranges[name]
        step = max(high - low, 1e-12 * (1.0 + abs(high)))
        excess = np.minimum(ratio[far] - self._FAR_ROWS_START, 1e100)
        guarded = np.array(scores, dtype=np.float64, copy=True)
        guarded[far] = np.minimum(guarded[far], high - step * excess)
        return guarded

    def _score_variants(self):
        """``{"param=value": callable(X) -> score_samples}`` for :meth:`ablation_scores` (none by default)."""
        return {}

    def anomaly_score(self, X):
        """Anomaly score (higher = more anomalous): ``-score_samples(X)``, the PyOD-style convenience.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or images

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        return -self.score_samples(X)

    def _network_normality(self, x, *, log_ndtr=None):
        """Hook: the normality score of a batch ``x`` (a float tensor on the networks' device) in torch operations,
        before the far-row cap: what :meth:`_score_samples` computes, written so that autograd differentiates it
        (:mod:`skanomaly.explanations`) and torch's ONNX exporter translates it (:mod:`skanomaly.export`).

        Default: minus the net's anomaly score. A detector whose :meth:`_score_samples` computes something else
        overrides both (:meth:`_has_network_normality` tells whether it did).

        Parameters
        ----------
        x : torch.Tensor of shape (n_samples, n_features)
        log_ndtr : callable or None, default=None
            ``log Phi`` (standard normal CDF) of a tensor, for scores built on it (AMA's A-score); ``None`` uses
            :func:`torch.special.log_ndtr`. Explanations pass one whose derivative stays finite far into the
            tail, the export one that its exporter translates.

        Returns
        -------
        scores : torch.Tensor of shape (n_samples,)
        """
        return -self.net_.anomaly_score(x)

    @classmethod
    def _has_network_normality(cls):
        """Whether :meth:`_network_normality` computes this class's :meth:`_score_samples` (a subclass that
        changes the score without changing the hook does not)."""
        return (cls._network_normality is not BaseDetector._network_normality
                or cls._score_samples is BaseDetector._score_samples)

    def _score_samples(self, X):
        """Normality scores of validated float64 ``X`` (default: minus the net's anomaly score)."""
        return -self._batched(self.net_.anomaly_score, X)

    def _batched(self, fn, X):
        """Apply ``fn`` (float64 tensor batch -> tensor) over ``X`` in batches of ``score_batch_size`` rows.

        ``X`` (validated, float32 or float64) is converted to float64 one batch at a time, so scoring never
        holds a float64 copy of the whole input. Networks are in eval mode and float64 after ``fit``, so the
        result does not depend on the batch size. Returns a float64 ndarray (2-D when ``fn`` returns 2-D).
        """
        net = self.net_
        net._set_training(False)
        n_samples = X.shape[0]
        values = None
        with torch_threads(getattr(self, "n_threads", 1)):
            for rows, part in no_grad_batches(fn, X, self.score_batch_size, device=net.device):
                if values is None:
                    values = np.empty((n_samples, *part.shape[1:]), dtype=np.float64)
                values[rows] = part
        if values is None:
            values = np.empty(0)
        if not np.all(np.isfinite(values)):
            raise TrainingDivergedError(
                f"{type(self).__name__} produced non-finite scores for {np.sum(~np.isfinite(values))} sample(s): "
                "the networks diverged or the input is far outside the training range. Refit with scaled input "
                "or a lower learning rate."
            )
        return values

    # ------------------------------------------------------------------------------------------ validation
    def _validate_X(self, X, *, reset):
        """Validate input, flatten image arrays, and (on fit) resolve ``image_shape_``.

        Fit converts to float64. Scoring keeps float32 input as it is (other input becomes float64):
        :meth:`_batched` converts one batch at a time.
        """
        array_shape = None
        if hasattr(X, "ndim") and hasattr(X, "shape") and X.ndim in (3, 4):
            array_shape = tuple(int(s) for s in X.shape[1:])
            if len(array_shape) == 2:
                array_shape = (1, *array_shape)
            X = np.asarray(X).reshape(X.shape[0], -1)
        X = validate_data(self, X, reset=reset, dtype=np.float64 if reset else [np.float64, np.float32],
                          ensure_min_samples=2 if reset else 1)
        largest = max(float(X.max()), -float(X.min())) if X.size else 0.0  # no |X| copy
        if largest > float(np.finfo(np.float32).max):
            raise ValueError(
                f"X contains values up to {largest:.3g}, beyond the float32 range the networks "
                f"{'train' if reset else 'were trained'} in; scale the features first (e.g. MinMaxScaler in a "
                "Pipeline)."
            )
        if reset:
            self.image_shape_ = self._resolve_image_shape(array_shape, X.shape[1])
        elif array_shape is not None and array_shape != self.image_shape_:
            raise ValueError(
                f"X holds images of shape {array_shape}, but {type(self).__name__} was fitted on "
                f"image_shape={self.image_shape_}."
            )
        return X

    def _resolve_image_shape(self, array_shape, n_features):
        shape = self.image_shape if self.image_shape is not None else array_shape
        if shape is None:
            return None
        shape = tuple(int(s) for s in shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or any(s < 1 for s in shape):
            raise ValueError(f"image_shape must be (C, H, W) or (H, W) of positive ints, got {self.image_shape!r}.")
        if array_shape is not None and self.image_shape is not None and array_shape != shape:
            raise ValueError(f"X holds images of shape {array_shape}, but image_shape={self.image_shape!r}.")
        if math.prod(shape) != n_features:
            raise ValueError(
                f"image_shape={shape} has {math.prod(shape)} values per image, but X has {n_features} features."
            )
        return shape

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = False
        return tags

    # ----------------------------------------------------------------------------------------- persistence
    def __getstate__(self):
        """Pickled state: attributes that are networks inside ``net_`` are stored once, as their path in it.

        skorch pickles ``net_.module_`` through torch (mapping devices on load); an attribute such as OMASGAN's
        ``critic_`` pickled beside it would be a second copy of its weights, tied to the device it was saved on.
        """
        state = super().__getstate__()
        net = state.get("net_")
        module = getattr(net, "module_", None)
        if isinstance(module, torch.nn.Module):
            paths = {id(sub): path for path, sub in module.named_modules() if path}
            references = {key: paths[id(value)] for key, value in state.items()
                          if isinstance(value, torch.nn.Module) and id(value) in paths}
            if references:
                state = {key: value for key, value in state.items() if key not in references}
                state["_network_paths"] = references
        return state

    def __setstate__(self, state):
        """Restore a pickled detector; ``device_`` names the device its networks were loaded on."""
        state = dict(state)
        references = state.pop("_network_paths", {})
        super().__setstate__(state)
        net = getattr(self, "net_", None)
        for key, path in references.items():
            setattr(self, key, net.module_.get_submodule(path))
        module = getattr(net, "module_", None)
        if isinstance(module, torch.nn.Module) and "device_" in state:
            tensor = next(iter(module.parameters()), None)
            self.device_ = tensor.device if tensor is not None else torch.device(net.device)


def _cuda_devices(device):
    """The CUDA devices whose random state a block on ``device`` forks (as :func:`skanomaly.utils.seeded`)."""
    if device.type != "cuda":
        return []
    return [device.index if device.index is not None else torch.cuda.current_device()]


def _random_state(device):
    """torch's random states that training on ``device`` draws from."""
    devices = _cuda_devices(device)
    return {"cpu": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state(devices[0]) if devices else None}


def _set_random_state(state, device):
    torch.set_rng_state(state["cpu"])
    devices = _cuda_devices(device)
    if devices and state["cuda"] is not None:
        torch.cuda.set_rng_state(state["cuda"], devices[0])


def _storable(value):
    """``value`` in the types :mod:`skanomaly.io` stores: string keys, tensors copied to the CPU."""
    if isinstance(value, Mapping):
        return {str(key): _storable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_storable(item) for item in value)
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    return value


def _optimizer_state(stored, param_groups):
    """An optimizer's ``state_dict``: the per-parameter state of its :func:`_storable` form (parameter numbers back
    to ints, the tensors copied: an optimizer updates the tensors it loads in place) with ``param_groups``, the
    settings of the optimizer built from the detector's current parameters (``lr``, ...)."""
    stored = _storable(stored)
    return {"state": {int(key): value for key, value in stored["state"].items()}, "param_groups": param_groups}


def _training_state(net):
    """What :meth:`BaseDetector.partial_fit` needs to continue the training of ``net`` exactly (weights aside)."""
    guard = dict(net.callbacks_)["divergence_guard"]
    return _storable({
        "optimizers": {name: getattr(net, name + "_").state_dict() for name in net._optimizers},
        "shuffle_generator": net.iterator_train__generator.get_state(),
        "random_state": vars(net).pop("random_state_after_training"),
        "divergence_guard": {"unit": float(guard.unit_), "first_epoch": guard.first_epoch_,
                             "first_errors": guard.first_errors_},
    })


def _history_frame(history):
    """Per-epoch history of a skorch net as a DataFrame: one row per epoch, one column per loss term."""
    rows = []
    for epoch in history:
        rows.append(
            {
                key: value
                for key, value in epoch.items()
                if key not in ("batches", "train_batch_count") and not key.endswith("_best")
            }
        )
    frame = pd.DataFrame(rows)
    if "epoch" in frame:
        frame = frame.set_index("epoch")
    return frame


def _finite_range(scores):
    """``(min, max)`` of an array of finite scores, as floats."""
    return float(np.min(scores)), float(np.max(scores))


def _has_batch_norm(module):
    return any(isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) for layer in module.modules())


def _prepare_for_scoring(net):
    """Trim a fitted net to what scoring needs and switch its networks to float64 eval mode.

    Optimizers, callbacks and the batch history are dropped (the detector keeps ``history_``); parametrizations
    such as spectral norm are baked into plain weights (torch cannot pickle parametrized modules); float64 makes
    scores identical whatever the batch size (float32 matrix products differ between batch shapes).
    """
    if isinstance(net.module_, torch.nn.parallel.DistributedDataParallel):
        net.module_ = net.module_.module
    net.trim_for_prediction()
    for name in net._modules:
        freeze_parametrizations(getattr(net, name + "_")).double().eval()
        # The constructor argument ``module`` is the very instance in ``module_``; skorch pickles ``module_``
        # on its own (torch's format), so keeping the instance would store every weight twice. The class says
        # what it was.
        if isinstance(getattr(net, name, None), torch.nn.Module):
            setattr(net, name, type(getattr(net, name + "_")))
