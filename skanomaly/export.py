"""Export fitted detectors to ONNX, to score without Python, and check that the export scores as they do.

:func:`to_onnx` turns a fitted estimator into one ONNX model that takes rows (or images) and returns
``score_samples`` (same sign and meaning as the estimator's), ``decision_function`` and the ``predict`` labels at
the estimator's ``offset_``; for a :class:`~skanomaly.calibration.CalibratedDetector` it also returns the
``p_values``. It accepts

- every detector of :mod:`skanomaly.detectors` (tabular rows or images of the fitted ``image_shape_``), with the
  cap that :meth:`~skanomaly.base.BaseDetector.score_samples` puts on rows far outside the training data;
- :class:`~skanomaly.ensemble.SeedEnsembleDetector` and :class:`~skanomaly.ensemble.ScoreCombinationDetector`,
  whose members may be skanomaly detectors, scikit-learn outlier detectors that ``skl2onnx`` converts
  (:class:`~sklearn.ensemble.IsolationForest`, :class:`~sklearn.neighbors.LocalOutlierFactor` with
  ``novelty=True`` and :class:`~sklearn.svm.OneClassSVM` are tested) or pipelines of them;
- a :class:`~sklearn.pipeline.Pipeline` of scikit-learn transformers that ``skl2onnx`` converts (scalers, ...)
  ending in any of the above;
- :class:`~skanomaly.calibration.CalibratedDetector` around any of the above.

The networks are exported by torch's ONNX exporter (``torch.onnx.export(..., dynamo=True)``) in float32, the
scikit-learn parts by ``skl2onnx``; the few operations that join them (standardising and combining member scores,
the threshold, the p-values) are ONNX operators added with :mod:`onnx.helper`.

Every export is checked by :func:`check_onnx` before :func:`to_onnx` returns or writes anything: ``onnxruntime``
scores the rows given and rows far outside them, one at a time and all at once, and the export is refused with
:class:`ExportError` when a detector's float32 score differs from its float64 score by more than ``rtol``
(default ``1e-5``) times the larger of its score scale (the range of its scores of the rows given) and the score's
magnitude, when a combination of scores leaves the bounds those differences allow, or when a label differs away
from a tie with the threshold.

The ONNX packages are an optional dependency: ``pip install "skanomaly[onnx]"``.
"""

import copy
import json
import logging
import math
import os
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from sklearn.base import OutlierMixin
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from .base import BaseDetector
from .ensemble import ScoreCombinationDetector, SeedEnsembleDetector
from .exceptions import TrainingDivergedError
from .utils import torch_threads

__all__ = ["DEFAULT_RTOL", "ExportError", "OPSETS", "check_onnx", "to_onnx"]

#: The ONNX operator sets of every exported model: the default domain and ``ai.onnx.ml`` (scikit-learn trees).
OPSETS = {"": 18, "ai.onnx.ml": 3}
#: Largest score difference :func:`to_onnx` accepts, relative to the score scale (or the score's magnitude).
DEFAULT_RTOL = 1e-5
# The check scores at most this many of the rows given (a seeded sample of them), plus far rows.
_MAX_CHECK_ROWS = 2048
# Far rows of the check: this many directions, at these multiples of the largest distance of a given row from
# their mean.
_FAR_DIRECTIONS = 16
_FAR_FACTORS = (1.5, 2.5, 4.0, 10.0, 100.0)
# Rows scored one at a time by the check (batch size 1), from the given rows and from the far rows each.
_SINGLE_ROWS = 4

INPUT_NAME = "X"


class ExportError(ValueError):
    """An estimator cannot be exported to ONNX, or its export does not score as the estimator does.

    The message names the estimator (or the member of an ensemble or step of a pipeline) that cannot be
    exported, or the measured differences that exceeded the tolerance.
    """


def _require_onnx_packages():
    """Import the optional packages, or raise an ImportError that says how to install them."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401  (torch's exporter needs it)
        import skl2onnx  # noqa: F401
    except ImportError as error:
        raise ImportError(f"Exporting to ONNX needs the packages onnx, onnxruntime, onnxscript and skl2onnx "
                          f"({error}); install them with: pip install \"skanomaly[onnx]\"") from error


# ------------------------------------------------------------------------------------------------------------
# one ONNX graph assembled from converted parts
# ------------------------------------------------------------------------------------------------------------
class _Graph:
    """Nodes, initializers and operator sets of the model being assembled, with fresh names for its tensors."""

    def __init__(self):
        import onnx

        self.onnx = onnx
        self.nodes = []
        self.initializers = []
        self.functions = []
        self.opsets = dict(OPSETS)
        self.ir_version = 8
        self._count = 0

    def fresh(self, hint):
        self._count += 1
        return f"{hint}_{self._count}"

    def constant(self, value, hint, dtype=np.float32):
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type, inputs, hint, n_outputs=1, **attributes):
        outputs = [self.fresh(hint) for _ in range(n_outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), outputs, **attributes))
        return outputs[0] if n_outputs == 1 else outputs

    def include(self, model, source, hint):
        """Add the graph of ``model`` (one input), fed from tensor ``source``; return its output names."""
        model = self.onnx.compose.add_prefix(model, self.fresh(hint) + "/")
        graph = model.graph
        if len(graph.input) != 1:
            raise ExportError(f"{hint}: a converted part has {len(graph.input)} inputs instead of one.")
        for opset in model.opset_import:
            domain = opset.domain or ""
            if domain == "" and opset.version != OPSETS[""]:
                raise ExportError(f"{hint}: a converted part uses ONNX opset {opset.version}, not {OPSETS['']}.")
            self.opsets[domain] = max(self.opsets.get(domain, 0), opset.version)
        self.ir_version = max(self.ir_version, model.ir_version)
        self.nodes.append(self.onnx.helper.make_node("Identity", [source], [graph.input[0].name]))
        self.nodes.extend(graph.node)
        self.initializers.extend(graph.initializer)
        self.functions.extend(model.functions)
        return [output.name for output in graph.output]

    def axes(self, *axes):
        return self.constant(list(axes), "axes", dtype=np.int64)

    def column(self, vector):
        """``(n,)`` -> ``(n, 1)``."""
        return self.op("Unsqueeze", [vector, self.axes(1)], "column")

    def stack(self, vectors):
        """``k`` tensors of shape ``(n,)`` -> one of shape ``(n, k)``."""
        return self.op("Concat", [self.column(v) for v in vectors], "stacked", axis=1)

    def affine(self, vector, shift, scale, hint):
        """``(vector - shift) / scale``, in float32."""
        centred = self.op("Sub", [vector, self.constant(shift, "shift")], hint)
        return self.op("Div", [centred, self.constant(scale, "scale")], hint)

    def model(self, input_info, outputs, metadata):
        helper = self.onnx.helper
        graph = helper.make_graph(self.nodes, "skanomaly", [input_info], outputs, initializer=self.initializers)
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid(domain, version) for domain, version in self.opsets.items()],
            functions=self.functions, producer_name="skanomaly", ir_version=self.ir_version)
        for key, value in metadata.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        return model


# ------------------------------------------------------------------------------------------------------------
# torch parts: the scoring path of a detector, with the cap on far rows
# ------------------------------------------------------------------------------------------------------------
def _chebyshev_log_erfc_coefficients(degree=24):
    """Chebyshev coefficients of ``g(t) = log(erfc(x)) + x**2 - log(t)``, ``t = 1 / (1 + x / 2)``, in ``2t - 1``.

    ``g`` is smooth on ``t`` in [0, 1] (``x`` from infinity to 0), so ``log(erfc(x)) = log(t) - x**2 + g(t)``
    is evaluated in float32 to a few units in the last place of the result for every ``x >= 0``, where
    ``log(1 - erf(x))`` loses all digits above ``x`` of about 4. The coefficients are interpolated from
    :func:`scipy.special.log_ndtr` in float64.
    """
    from numpy.polynomial import chebyshev
    from scipy.special import log_ndtr

    def g(u):
        t = (u + 1.0) / 2.0
        x = 2.0 * (1.0 / t - 1.0)
        return math.log(2.0) + log_ndtr(-x * math.sqrt(2.0)) + x * x - np.log(t)

    return chebyshev.chebinterpolate(g, degree)


_LOG_ERFC_COEFFICIENTS = None


def _log_erfc(x):
    """``log(erfc(x))`` of a float32 tensor ``x >= 0`` in torch operations that the ONNX exporter translates."""
    global _LOG_ERFC_COEFFICIENTS
    if _LOG_ERFC_COEFFICIENTS is None:
        _LOG_ERFC_COEFFICIENTS = _chebyshev_log_erfc_coefficients()
    t = 1.0 / (1.0 + 0.5 * x)
    u = 2.0 * t - 1.0
    later = torch.zeros_like(u)
    current = torch.zeros_like(u)
    for c in _LOG_ERFC_COEFFICIENTS[:0:-1]:  # Clenshaw's recurrence, highest coefficient first
        current, later = float(c) + 2.0 * u * current - later, current
    g = float(_LOG_ERFC_COEFFICIENTS[0]) + u * current - later
    return torch.log(t) - x * x + g


def _log_ndtr(v):
    """``log Phi(v)`` of a float32 tensor ``v <= 0`` through :func:`_log_erfc`: ``log(erfc(-v / sqrt 2) / 2)``."""
    return _log_erfc(-v / math.sqrt(2.0)) - math.log(2.0)


def _raw_scores(detector):
    """``fn(x) -> normality scores`` of float32 rows ``x``, before the far-row cap, computed by the networks of
    ``detector`` (a float32 copy) as its ``_score_samples`` does (its ``_network_normality`` hook); None when the
    detector's class does not provide the hook for its score."""
    if not detector._has_network_normality():
        return None
    return lambda x: detector._network_normality(x, log_ndtr=_log_ndtr)


class _DetectorScores(torch.nn.Module):
    """``score_samples`` of a fitted detector's float32 copy, far-row cap included (see ``_guard_far_rows``)."""

    def __init__(self, detector, raw):
        super().__init__()
        self.networks = detector.net_.module_
        self.raw = raw
        self.guarded = getattr(detector, "support_center_", None) is not None and "score_samples" in getattr(
            detector, "training_score_range_", {})
        if self.guarded:
            low, high = detector.training_score_range_["score_samples"]
            self.register_buffer("center", torch.as_tensor(detector.support_center_, dtype=torch.float32))
            self.radius = max(float(detector.support_radius_), float(np.finfo(np.float32).tiny))
            self.start = float(detector._FAR_ROWS_START)
            self.high = float(high)
            self.step = max(high - low, 1e-12 * (1.0 + abs(high)))

    def forward(self, x):
        scores = self.raw(x)
        if not self.guarded:
            return scores
        # The distance to the centre, scaled by the largest coordinate first so that no square overflows float32.
        difference = x - self.center
        largest = torch.amax(torch.abs(difference), dim=1, keepdim=True)
        largest = torch.where(largest > 0, largest, torch.ones_like(largest))
        distance = largest.squeeze(1) * torch.sqrt(torch.sum((difference / largest) ** 2, dim=1))
        ratio = distance / self.radius
        cap = self.high - self.step * (ratio - self.start)
        return torch.where(ratio > self.start, torch.minimum(scores, cap), scores)


@contextmanager
def _quiet_exporter():
    """Silence the exporter's progress messages and warnings about packages skanomaly does not use."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export", "torch._export", "onnxscript")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _float32_copy(detector):
    """A deep copy of a fitted detector whose networks are float32, on the CPU and in eval mode."""
    clone = copy.deepcopy(detector)
    net = clone.net_
    for name in net._modules:
        getattr(net, name + "_").to("cpu", torch.float32).eval()
    for value in vars(clone).values():
        if isinstance(value, torch.nn.Module):
            value.to("cpu", torch.float32).eval()
    return clone


class _StackedScores(torch.nn.Module):
    """The scores of several detectors of the same rows, one column each."""

    def __init__(self, parts):
        super().__init__()
        self.parts = torch.nn.ModuleList(parts)

    def forward(self, x):
        return torch.stack([part(x) for part in self.parts], dim=1)


def _detectors_model(detectors, n_features, wheres):
    """The ONNX model (input ``x``, output ``scores`` of shape ``(n, k)``) of the ``score_samples`` of ``k``
    fitted skanomaly detectors that read the same rows: one export for all of them."""
    parts = []
    for detector, where in zip(detectors, wheres):
        clone = _float32_copy(detector)
        raw = _raw_scores(clone)
        if raw is None:
            raise ExportError(f"{where}: {type(detector).__name__} has no ONNX export (skanomaly exports "
                              "AutoEncoderDetector, DeepSVDDDetector, AMADetector, MirroredAEDetector and "
                              "OMASGANDetector).")
        parts.append(_DetectorScores(clone, raw))
    module = _StackedScores(parts).eval()
    example = torch.zeros(3, n_features, dtype=torch.float32)
    batch = torch.export.Dim("N", min=1)
    n_threads = getattr(detectors[0], "n_threads", 1)
    try:
        with torch_threads(n_threads), _quiet_exporter(), torch.no_grad():
            program = torch.onnx.export(module, (example,), dynamo=True, opset_version=OPSETS[""],
                                        input_names=["x"], output_names=["scores"],
                                        dynamic_shapes={"x": {0: batch}}, verbose=False)
    except Exception as error:  # the exporter raises its own error types
        names = ", ".join(sorted({type(detector).__name__ for detector in detectors}))
        raise ExportError(f"{wheres[0]}: torch's ONNX exporter failed on {names}: {type(error).__name__}: "
                          f"{error}") from error
    return program.model_proto


# ------------------------------------------------------------------------------------------------------------
# scikit-learn parts
# ------------------------------------------------------------------------------------------------------------
def _skl2onnx_model(estimator, n_features, where):
    """``skl2onnx``'s float32 model of a fitted scikit-learn estimator (input ``X`` with ``n_features``)."""
    from skl2onnx import to_onnx as skl_to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return skl_to_onnx(estimator, initial_types=[("X", FloatTensorType([None, n_features]))],
                               target_opset=dict(OPSETS))
    except Exception as error:  # skl2onnx raises RuntimeError, MissingShapeCalculator, NotImplementedError...
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ExportError(f"{where}: skl2onnx cannot convert {type(estimator).__name__} ({first_line}).") from error


def _sklearn_outlier_scores(graph, estimator, source, n_features, where):
    """``score_samples`` of a scikit-learn outlier detector: skl2onnx's ``scores`` (``decision_function``)
    plus ``offset_``."""
    offset = getattr(estimator, "offset_", None)
    if offset is None:
        raise ExportError(f"{where}: {type(estimator).__name__} has no offset_, so its score_samples cannot be "
                          "recovered from its decision_function.")
    model = _skl2onnx_model(estimator, n_features, where)
    outputs = graph.include(model, source, "sklearn")
    names = [output.name.rsplit("/", 1)[-1] for output in model.graph.output]
    if "scores" not in names:
        raise ExportError(f"{where}: skl2onnx's model of {type(estimator).__name__} has no 'scores' output "
                          f"(outputs {names}).")
    scores = outputs[names.index("scores")]
    flat = graph.op("Reshape", [scores, graph.constant([-1], "shape", dtype=np.int64)], "decision")
    return graph.op("Add", [flat, graph.constant(offset, "offset")], "score")


# ------------------------------------------------------------------------------------------------------------
# the scoring graph of any supported estimator
# ------------------------------------------------------------------------------------------------------------
def _calibration_module():
    """:mod:`skanomaly.calibration`, or None where this installation has none."""
    try:
        from . import calibration
    except ImportError:
        return None
    return calibration


def _is_calibrated(estimator):
    module = _calibration_module()
    return module is not None and isinstance(estimator, module.CalibratedDetector)


def _describe(estimator):
    return type(estimator).__name__


def _check_fitted(estimator, where):
    try:
        check_is_fitted(estimator)
    except Exception as error:  # NotFittedError, or a TypeError for something that is no estimator
        raise type(error)(f"{where}: {error}") from error


def _transformer_steps(pipeline):
    """The ``(name, step)`` pairs before the last step of ``pipeline``, without ``None`` and ``"passthrough"``."""
    return [(name, step) for name, step in pipeline.steps[:-1] if step is not None and step != "passthrough"]


def _outputs(graph, estimator, source, n_features, where):
    """Add the graph of ``estimator`` scoring float32 rows ``source`` (``n_features`` wide).

    Returns ``{"score": name}`` of its ``(n,)`` float32 ``score_samples``, plus ``"p_values"`` and ``"predict"``
    for a calibrated detector (whose decision is made on the count of calibration rows, not on the score).
    """
    _check_fitted(estimator, where)
    if isinstance(estimator, Pipeline):
        steps = _transformer_steps(estimator)
        final_name, final = estimator.steps[-1]
        for name, step in steps:
            model = _skl2onnx_model(step, n_features, f"{where}, step {name!r}")
            (source,) = graph.include(model, source, "transform")
            n_features = _output_width(model)
        return _outputs(graph, final, source, n_features, f"{where}, step {final_name!r}")
    if isinstance(estimator, SeedEnsembleDetector):
        members = estimator.estimators_
        wheres = [f"{where}, member {j}" for j in range(len(members))]
        scores = _member_scores(graph, members, source, n_features, wheres)
        columns = [graph.affine(score, estimator.score_means_[j], estimator.score_scales_[j], "standardised")
                   for j, score in enumerate(scores)]
        stacked = graph.stack(columns)
        if estimator.combination == "mean":
            return {"score": graph.op("ReduceMean", [stacked, graph.axes(1)], "score", keepdims=0)}
        return {"score": _median(graph, stacked, len(columns))}
    if isinstance(estimator, ScoreCombinationDetector):
        wheres = [f"{where}, member {name!r}" for name in estimator.named_estimators_]
        scores = _member_scores(graph, estimator.estimators_, source, n_features, wheres)
        columns = [_normalized(graph, estimator, j, score, where) for j, score in enumerate(scores)]
        stacked = graph.stack(columns)
        if estimator.combination == "max":
            return {"score": graph.op("ReduceMin", [stacked, graph.axes(1)], "score", keepdims=0)}
        weights = graph.constant(np.asarray(estimator.weights_).reshape(-1, 1), "weights")
        product = graph.op("MatMul", [stacked, weights], "weighted")
        return {"score": graph.op("Reshape", [product, graph.constant([-1], "shape", dtype=np.int64)], "score")}
    if _is_calibrated(estimator):
        return _calibrated(graph, estimator, source, n_features, where)
    if isinstance(estimator, BaseDetector):
        (score,) = _member_scores(graph, [estimator], source, n_features, [where])
        return {"score": score}
    if isinstance(estimator, OutlierMixin) and hasattr(estimator, "score_samples"):
        return {"score": _sklearn_outlier_scores(graph, estimator, source, n_features, where)}
    raise ExportError(f"{where}: {_describe(estimator)} cannot be exported to ONNX: it is neither a skanomaly "
                      "detector, ensemble or calibrated detector, nor a scikit-learn outlier detector, nor a "
                      "Pipeline ending in one.")


def _member_scores(graph, members, source, n_features, wheres):
    """The ``score_samples`` tensors of ``members`` that all read ``source``; the skanomaly detectors among them
    are exported by one call of torch's exporter."""
    scores = [None] * len(members)
    detectors = [i for i, member in enumerate(members)
                 if isinstance(member, BaseDetector) and not _is_ensemble_or_calibrated(member)]
    for i in detectors:
        _check_fitted(members[i], wheres[i])
    if detectors:
        model = _detectors_model([members[i] for i in detectors], n_features, [wheres[i] for i in detectors])
        (stacked,) = graph.include(model, source, "detectors")
        for column, i in enumerate(detectors):
            picked = graph.op("Gather", [stacked, graph.constant(column, "column", dtype=np.int64)], "score", axis=1)
            scores[i] = picked
    for i, member in enumerate(members):
        if scores[i] is None:
            scores[i] = _outputs(graph, member, source, n_features, wheres[i])["score"]
    return scores


def _is_ensemble_or_calibrated(estimator):
    return isinstance(estimator, (SeedEnsembleDetector, ScoreCombinationDetector)) or _is_calibrated(estimator)


def _output_width(model):
    shape = model.graph.output[0].type.tensor_type.shape
    if len(shape.dim) != 2 or not shape.dim[1].HasField("dim_value"):
        raise ExportError("the width of a converted pipeline's output is unknown.")
    return int(shape.dim[1].dim_value)


def _median(graph, stacked, k):
    """Median over the ``k`` columns, as :func:`numpy.median` (the mean of the two middle values when even)."""
    ordered, _ = graph.op("TopK", [stacked, graph.constant([k], "k", dtype=np.int64)], "sorted", n_outputs=2,
                          axis=1)
    middle = graph.op("Gather", [ordered, graph.constant([(k - 1) // 2, k // 2], "middle", dtype=np.int64)],
                      "middle", axis=1)
    return graph.op("ReduceMean", [middle, graph.axes(1)], "score", keepdims=0)


def _interval(graph, scores, reference):
    """Where each score lies among the sorted ``reference`` values (float32 constants).

    Returns ``(count, low_index, high_index, fraction)``: ``count`` (int64) of reference values ``<=`` the score
    (NumPy's ``searchsorted(..., side="right")``); the indices ``count - 1`` and ``count``, clipped to the ends;
    and ``(score - lower) / (upper - lower)`` for the reference values at those indices (0 where they are equal).
    """
    values = graph.constant(reference, "reference")
    at_or_below = graph.op("LessOrEqual", [values, graph.column(scores)], "at_or_below")
    count = graph.op("ReduceSum", [graph.op("Cast", [at_or_below], "counted", to=7), graph.axes(1)], "count",
                     keepdims=0)
    zero, one = graph.constant(0, "zero", dtype=np.int64), graph.constant(1, "one", dtype=np.int64)
    end = graph.constant(len(reference) - 1, "end", dtype=np.int64)
    low_index = graph.op("Clip", [graph.op("Sub", [count, one], "below"), zero, end], "low_index")
    high_index = graph.op("Clip", [count, zero, end], "high_index")
    lower = graph.op("Gather", [values, low_index], "lower", axis=0)
    upper = graph.op("Gather", [values, high_index], "upper", axis=0)
    width = graph.op("Sub", [upper, lower], "width")
    positive = graph.op("Greater", [width, graph.constant(0.0, "zero")], "positive")
    safe = graph.op("Where", [positive, width, graph.constant(1.0, "one")], "safe_width")
    fraction = graph.op("Div", [graph.op("Sub", [scores, lower], "rise"), safe], "fraction")
    fraction = graph.op("Where", [positive, fraction, graph.constant(0.0, "zero")], "fraction")
    return count, low_index, high_index, fraction


def _normalized(graph, estimator, j, scores, where):
    """Member ``j``'s scores on the combination's common scale (``ScoreCombinationDetector._normalize``)."""
    mean, scale = float(estimator.score_means_[j]), float(estimator.score_scales_[j])
    if estimator.normalization == "standard":
        return graph.affine(scores, mean, scale, "standardised")
    positions = getattr(estimator, "_rank_positions", None)
    n_train = getattr(estimator, "_n_train", None)
    if positions is None or n_train is None:
        raise ExportError(f"{where}: this ScoreCombinationDetector lacks the training ranks of its members; "
                          "refit it.")
    values, ranks = (np.asarray(a, dtype=np.float64) for a in positions[j])
    # np.interp between the mid-ranks of the reference values around the score (at the last one: its rank).
    _, low_index, high_index, fraction = _interval(graph, scores, values)
    p = graph.constant(ranks, "ranks")
    p_low = graph.op("Gather", [p, low_index], "p_low", axis=0)
    p_high = graph.op("Gather", [p, high_index], "p_high", axis=0)
    step = graph.op("Mul", [fraction, graph.op("Sub", [p_high, p_low], "step")], "rise")
    inside = graph.op("Add", [p_low, step], "mapped")
    # Beyond the lowest (highest) training score: linear with slope 1 / (n_train * std).
    first, last = graph.constant(values[0], "first"), graph.constant(values[-1], "last")
    slope = graph.constant(1.0 / (n_train * scale), "slope")
    below = graph.op("Sub", [graph.constant(ranks[0], "rank"),
                             graph.op("Mul", [graph.op("Sub", [first, scores], "gap"), slope], "drop")], "below")
    above = graph.op("Add", [graph.constant(ranks[-1], "rank"),
                             graph.op("Mul", [graph.op("Sub", [scores, last], "gap"), slope], "rise")], "above")
    mapped = graph.op("Where", [graph.op("Less", [scores, first], "is_below"), below, inside], "mapped")
    return graph.op("Where", [graph.op("Greater", [scores, last], "is_above"), above, mapped], "mapped")


def _float32_below_one():
    return float(np.nextafter(np.float32(1.0), np.float32(0.0)))


def _calibrated(graph, estimator, source, n_features, where):
    """Outputs of a :class:`~skanomaly.calibration.CalibratedDetector`: its calibrated score, p-values and
    labels at its false-alarm rate, from the position of each model's score among its calibration scores."""
    calibration = _calibration_module()
    n = int(estimator.n_calibration_)
    ceiling = min(float(calibration._FRACTION_CEILING), _float32_below_one())
    counts, fractions = [], []
    members = estimator.estimators_
    member_scores = _member_scores(graph, members, source, n_features,
                                   [f"{where}, model {k}" for k in range(len(members))])
    for k, scores in enumerate(member_scores):
        reference = np.sort(np.asarray(estimator.calibration_scores_, dtype=np.float64)[
            np.asarray(estimator.calibration_folds_) == k])
        count, _, _, inside = _interval(graph, scores, reference)
        spread = float(np.std(reference))
        unit = spread if spread > 0 else 1e-12 * (1.0 + abs(float(reference[0])))
        # Below the lowest calibration score: 1 / (1 + d); above the highest: d / (1 + d) (d in units of the std).
        one = graph.constant(1.0, "one")
        low_gap = graph.op("Div", [graph.op("Sub", [graph.constant(reference[0], "first"), scores], "gap"),
                                   graph.constant(unit, "unit")], "distance")
        below = graph.op("Div", [one, graph.op("Add", [one, low_gap], "denominator")], "below")
        high_gap = graph.op("Div", [graph.op("Sub", [scores, graph.constant(reference[-1], "last")], "gap"),
                                    graph.constant(unit, "unit")], "distance")
        above = graph.op("Div", [high_gap, graph.op("Add", [one, high_gap], "denominator")], "above")
        is_below = graph.op("Equal", [count, graph.constant(0, "zero", dtype=np.int64)], "is_below")
        is_above = graph.op("Equal", [count, graph.constant(len(reference), "n", dtype=np.int64)], "is_above")
        fraction = graph.op("Where", [is_below, below, graph.op("Where", [is_above, above, inside], "fraction")],
                            "fraction")
        fractions.append(graph.op("Clip", [fraction, graph.constant(0.0, "zero"), graph.constant(ceiling, "top")],
                                  "fraction"))
        counts.append(count)
    count, fraction = counts[0], fractions[0]
    for more_count, more_fraction in zip(counts[1:], fractions[1:]):
        count = graph.op("Add", [count, more_count], "count")
        fraction = graph.op("Add", [fraction, more_fraction], "fraction")
    fraction = graph.op("Div", [fraction, graph.constant(len(counts), "models")], "fraction")
    fraction = graph.op("Min", [fraction, graph.constant(ceiling, "top")], "fraction")
    count_value = graph.op("Cast", [count], "count_value", to=1)
    total = graph.constant(n + 1, "n_plus_one")
    score = graph.op("Div", [graph.op("Add", [count_value, fraction], "position"), total], "score")
    p_values = graph.op("Div", [graph.op("Add", [count_value, graph.constant(1.0, "one")], "rank"), total],
                        "p_values")
    # p <= false_alarm_rate exactly when fewer than m = floor(rate * (n + 1)) calibration rows score lower.
    threshold = int(round(float(estimator.offset_) * (n + 1)))
    flagged = graph.op("Less", [count, graph.constant(threshold, "m", dtype=np.int64)], "flagged")
    predict = graph.op("Where", [flagged, graph.constant(-1, "outlier", dtype=np.int64),
                                 graph.constant(1, "inlier", dtype=np.int64)], "label")
    return {"score": score, "p_values": p_values, "predict": predict}


# ------------------------------------------------------------------------------------------------------------
# the estimator's side of the check: its scores, and how far float32 members may move them
# ------------------------------------------------------------------------------------------------------------
def _scale(scores):
    """The range of ``scores``, or their largest magnitude when they are all equal, or 1."""
    if scores.size == 0:
        return 1.0
    spread = float(np.ptp(scores))
    if spread > 0:
        return spread
    largest = float(np.max(np.abs(scores)))
    return largest if largest > 0 else 1.0


def _reference(estimator, inputs, given, rtol):
    """The estimator's scores of ``inputs`` with the interval they may take when the score of every detector
    inside it moves by ``rtol * max(scale, |score|)`` (``scale``: the range of that detector's scores of the
    rows marked ``given``).

    Every combination skanomaly exports (standardising, ranks, mean, median, minimum, conformal positions) is
    non-decreasing in each member's score, so the bounds are the estimator's scores computed from the lowered and
    from the raised member scores. Returns a Bunch with ``score``, ``low``, ``high`` and ``composite`` (whether
    scores were combined), and for a calibrated detector ``p_values`` and ``labels``, each with ``_low`` and
    ``_high``.
    """
    if isinstance(estimator, Pipeline):
        for _, step in _transformer_steps(estimator):
            inputs = step.transform(inputs)
        return _reference(estimator.steps[-1][1], inputs, given, rtol)
    if isinstance(estimator, SeedEnsembleDetector):
        parts = [_reference(member, inputs, given, rtol) for member in estimator.estimators_]

        def combine(key):
            columns = np.column_stack([part[key] for part in parts])
            columns = (columns - estimator.score_means_) / estimator.score_scales_
            return np.median(columns, axis=1) if estimator.combination == "median" else columns.mean(axis=1)

        return Bunch(score=combine("score"), low=combine("low"), high=combine("high"), composite=True)
    if isinstance(estimator, ScoreCombinationDetector):
        parts = [_reference(member, inputs, given, rtol) for member in estimator.estimators_]

        def combine(key):
            return estimator._combine(np.column_stack([estimator._normalize(j, np.array(part[key], dtype=np.float64))
                                                       for j, part in enumerate(parts)]))

        return Bunch(score=combine("score"), low=combine("low"), high=combine("high"), composite=True)
    if _is_calibrated(estimator):
        return _calibrated_reference(estimator, inputs, given, rtol)
    scores = np.asarray(estimator.score_samples(inputs), dtype=np.float64)
    tolerance = rtol * np.maximum(_scale(scores[given]), np.abs(scores))
    return Bunch(score=scores, low=scores - tolerance, high=scores + tolerance, composite=False)


def _calibrated_reference(estimator, inputs, given, rtol):
    calibration = _calibration_module()
    parts = [_reference(member, inputs, given, rtol) for member in estimator.estimators_]
    n = int(estimator.n_calibration_)
    folds = np.asarray(estimator.calibration_folds_)
    threshold = int(round(float(estimator.offset_) * (n + 1)))
    result = Bunch(composite=True)
    for key, suffix in (("score", ""), ("low", "_low"), ("high", "_high")):
        count, fraction = 0, 0.0
        for k, part in enumerate(parts):
            reference = np.sort(np.asarray(estimator.calibration_scores_, dtype=np.float64)[folds == k])
            member_count, member_fraction = calibration._position(np.asarray(part[key], dtype=np.float64),
                                                                  reference)
            count, fraction = count + member_count, fraction + member_fraction
        fraction = np.minimum(fraction / len(parts), calibration._FRACTION_CEILING)
        result[key] = (count + fraction) / (n + 1)
        result["p_values" + suffix] = (1.0 + count) / (n + 1)
        result["labels" + suffix] = np.where(count < threshold, -1, 1)
    return result


# ------------------------------------------------------------------------------------------------------------
# public API
# ------------------------------------------------------------------------------------------------------------
def _final_estimator(estimator):
    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator


def _image_shape(estimator):
    """The fixed ``(C, H, W)`` of the images ``estimator`` scores, or None (tabular rows only)."""
    if isinstance(estimator, (Pipeline, ScoreCombinationDetector)):
        return None  # scikit-learn transformers and validate_data read 2-D rows
    if isinstance(estimator, SeedEnsembleDetector) or _is_calibrated(estimator):
        shapes = {_image_shape(member) for member in estimator.estimators_}
        return shapes.pop() if len(shapes) == 1 else None
    shape = getattr(estimator, "image_shape_", None)
    return None if shape is None else tuple(int(s) for s in shape)


def _input_layout(estimator, X):
    """``(X as float64 rows, shape of one input sample)``: rows of ``n_features_in_`` values, or images."""
    n_features = getattr(estimator, "n_features_in_", None)
    if n_features is None:
        raise ExportError(f"{_describe(estimator)} records no n_features_in_, so the width of its input is unknown.")
    try:
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ExportError(f"X must be a numeric array: {error}") from error
    if X.ndim in (3, 4):
        sample_shape = tuple(int(s) for s in X.shape[1:])
        image_shape = _image_shape(estimator)
        if image_shape is None:
            raise ExportError(f"X holds images of shape {sample_shape}, but {_describe(estimator)} has no fixed "
                              "image shape (a skanomaly detector, or an ensemble or calibration of them, fitted "
                              "with image_shape or on image arrays); pass X as rows of n_features values.")
        fits = sample_shape == image_shape or (X.ndim == 3 and image_shape[0] == 1 and sample_shape == image_shape[1:])
        if not fits:
            raise ExportError(f"X holds images of shape {sample_shape}, but {_describe(estimator)} was fitted on "
                              f"images of shape {image_shape}.")
        rows = X.reshape(X.shape[0], -1)
    elif X.ndim == 2:
        sample_shape = (X.shape[1],)
        rows = X
    else:
        raise ExportError(f"X must be 2-D rows (or 3-D/4-D images), got an array of shape {X.shape}.")
    if rows.shape[1] != n_features:
        raise ExportError(f"X has {rows.shape[1]} features, but {_describe(estimator)} was fitted on {n_features}.")
    if rows.shape[0] < 1 or not np.all(np.isfinite(rows)):
        raise ExportError("X must hold at least one row, of finite values.")
    return rows, sample_shape


def _offset(estimator):
    final = _final_estimator(estimator)
    offset = getattr(final, "offset_", None)
    if offset is None:
        raise ExportError(f"{_describe(final)} has no offset_, the threshold of its predict.")
    return float(offset)


def _build(estimator, sample_shape, n_features, metadata):
    import onnx

    graph = _Graph()
    if len(sample_shape) > 1:
        source = graph.op("Reshape", [INPUT_NAME, graph.constant([0, -1], "flat", dtype=np.int64)], "rows")
    else:
        source = INPUT_NAME
    parts = _outputs(graph, estimator, source, n_features, _describe(estimator))
    score, offset = parts["score"], graph.constant(_offset(estimator), "offset")
    outputs = {"score_samples": score, "decision_function": graph.op("Sub", [score, offset], "decision")}
    if "predict" in parts:
        outputs["predict"] = parts["predict"]
        outputs["p_values"] = parts["p_values"]
    else:
        below = graph.op("Less", [score, offset], "is_outlier")
        outputs["predict"] = graph.op("Where", [below, graph.constant(-1, "outlier", dtype=np.int64),
                                                graph.constant(1, "inlier", dtype=np.int64)], "label")
    helper = onnx.helper
    infos = []
    for name, tensor in outputs.items():
        graph.nodes.append(helper.make_node("Identity", [tensor], [name]))
        element = onnx.TensorProto.INT64 if name == "predict" else onnx.TensorProto.FLOAT
        infos.append(helper.make_tensor_value_info(name, element, ["N"]))
    input_info = helper.make_tensor_value_info(INPUT_NAME, onnx.TensorProto.FLOAT, ["N", *sample_shape])
    model = graph.model(input_info, infos, metadata)
    onnx.checker.check_model(model)
    return model


def _as_model_bytes(model):
    if isinstance(model, (str, os.PathLike)):
        return Path(model).read_bytes()
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    return model.SerializeToString()


def _session(model_bytes):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(model_bytes, options, providers=["CPUExecutionProvider"])


def _far_rows(rows, rng):
    """Rows at 1.5 to 100 times the largest distance of ``rows`` from their mean, along random directions and
    along the directions of some of the rows."""
    center = rows.mean(axis=0)
    distances = np.linalg.norm(rows - center, axis=1)
    radius = float(distances.max()) if distances.max() > 0 else 1.0
    half = _FAR_DIRECTIONS // 2
    directions = [rng.normal(size=(half, rows.shape[1]))]
    moved = np.flatnonzero(distances > 0)
    if moved.size:
        directions.append(rows[rng.choice(moved, size=min(half, moved.size), replace=False)] - center)
    directions = np.vstack(directions)
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return np.vstack([center + factor * radius * directions for factor in _FAR_FACTORS])


def _method(estimator, name):
    """``estimator``'s method ``name``; for a pipeline without it, its last step's, after the transformers."""
    if hasattr(estimator, name) or not isinstance(estimator, Pipeline):
        return getattr(estimator, name)
    inner = _method(estimator.steps[-1][1], name)

    def through_pipeline(X):
        for _, step in _transformer_steps(estimator):
            X = step.transform(X)
        return inner(X)

    return through_pipeline


def _python_outputs(estimator, inputs, names):
    """The estimator's outputs ``names`` for ``inputs``. Rows it cannot score (non-finite scores far out) are
    dropped: returns ``(kept row indices, {name: values})``."""
    methods = {name: _method(estimator, name) for name in names}

    def run(batch):
        return {name: np.asarray(method(batch)) for name, method in methods.items()}

    try:
        return np.arange(len(inputs)), run(inputs)
    except TrainingDivergedError:
        kept, values = [], {name: [] for name in names}
        for i in range(len(inputs)):
            try:
                single = run(inputs[i:i + 1])
            except TrainingDivergedError:
                continue
            kept.append(i)
            for name in names:
                values[name].append(single[name])
        return np.array(kept, dtype=int), {name: np.concatenate(v) if v else np.empty(0)
                                           for name, v in values.items()}


def check_onnx(model, estimator, X, *, rtol=DEFAULT_RTOL):
    """Compare an ONNX export with the estimator it came from, on the rows ``X`` and on rows far outside them.

    ``onnxruntime`` (CPU, one thread) scores the check rows all at once and eight of them one at a time (batch
    size 1). The check rows are ``X`` (at most 2048 of its rows, a seeded sample) and 80 rows at 1.5, 2.5, 4, 10
    and 100 times the largest distance of a row of ``X`` from their mean, along 16 directions (half random,
    half those of rows of ``X``). Rows the estimator cannot score (non-finite scores) are left out and counted.

    The tolerance applies to the score of each detector: a detector's float32 score may differ from its float64
    score by ``rtol * max(scale, |score|)``, ``scale`` being the range of its scores of the rows of ``X`` (far
    out, where scores grow large, float32 cannot do better than a relative error of the score itself). For a
    single detector (in a pipeline or not) that is the bound on the exported score. For an ensemble or a
    calibrated detector, the exported score must lie between the estimator's scores computed from its members'
    scores lowered and raised by their tolerance, widened by ``rtol * max(scale, |score|)`` of its own scores for
    the float32 arithmetic that combines them: rank normalisation and conformal calibration interpolate between
    training or calibration scores, steeply where two of them are close, and a difference of a member's score
    far within its tolerance can move the combined score by more than its own tolerance there.

    A label must equal ``predict``'s, except where the bounds lie on both sides of the threshold (a tie). For a
    calibrated detector the p-values must lie within the bounds the same way, to ``rtol``.

    Parameters
    ----------
    model : onnx.ModelProto, bytes or path-like
        An export of ``estimator`` by :func:`to_onnx`.
    estimator : estimator object
        The fitted estimator.
    X : array-like of shape (n_samples, n_features), or images
        Rows of the training distribution, in the layout the model takes (rows or images).
    rtol : float, default=1e-5
        The tolerance, relative to the score scale (or the score's magnitude, when larger).

    Returns
    -------
    report : sklearn.utils.Bunch
        ``passed`` (bool); ``rtol``; ``score_scale`` (the range of the estimator's scores of the rows of ``X``);
        ``n_rows`` and ``n_far_rows`` (rows compared), ``n_skipped``; ``max_abs_difference`` (all rows);
        ``max_relative_difference`` (rows of ``X``) and ``max_relative_difference_far`` (far rows), each
        ``|onnx - python| / max(score_scale, |python|)``; ``batch_size_one_max_difference`` (largest difference
        between a row scored alone and in the batch); ``label_mismatches`` and ``label_mismatches_at_ties``;
        ``max_p_value_difference`` (calibrated detectors, else None); ``problems``, a list of sentences (empty when
        passed).
    """
    _require_onnx_packages()
    if not (isinstance(rtol, (int, float)) and not isinstance(rtol, bool) and 0 < rtol < 1):
        raise ValueError(f"rtol must be a float in (0, 1), got {rtol!r}.")
    rows, sample_shape = _input_layout(estimator, X)
    rng = np.random.default_rng(0)
    if rows.shape[0] > _MAX_CHECK_ROWS:
        rows = rows[np.sort(rng.choice(rows.shape[0], _MAX_CHECK_ROWS, replace=False))]
    all_rows = np.vstack([rows, _far_rows(rows, rng)])
    calibrated = _is_calibrated(_final_estimator(estimator))
    names = ["score_samples", "predict"] + (["p_values"] if calibrated else [])

    def shaped(batch):
        return batch.reshape(batch.shape[0], *sample_shape)

    with warnings.catch_warnings():
        # A model fitted on a DataFrame is checked on arrays of the same columns.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        kept, python = _python_outputs(estimator, shaped(all_rows), names)
        if kept.size == 0:
            raise ExportError(f"{_describe(estimator)} could not score any of the check rows.")
        given = kept < rows.shape[0]
        inputs = shaped(all_rows[kept])
        reference = _reference(estimator, inputs, given, rtol)
    problems = []
    scores = python["score_samples"].astype(np.float64)
    scale = _scale(scores[given])
    magnitude = np.maximum(scale, np.abs(scores))
    if not np.all(np.abs(reference.score - scores) <= 1e-9 * magnitude):
        raise ExportError(f"skanomaly.export does not reproduce the scores of {_describe(estimator)} "
                          "(its scoring changed without the export following it); it cannot be checked.")
    slack = rtol * magnitude if reference.composite else 0.0
    low, high = reference.low - slack, reference.high + slack

    session = _session(_as_model_bytes(model))
    output_names = [output.name for output in session.get_outputs()]
    missing = [name for name in names if name not in output_names]
    if missing:
        raise ExportError(f"the ONNX model has no output(s) {missing} (outputs {output_names}).")
    float_inputs = inputs.astype(np.float32)
    results = dict(zip(output_names, session.run(None, {INPUT_NAME: float_inputs})))
    exported = np.asarray(results["score_samples"], dtype=np.float64)
    difference = np.abs(exported - scores)
    relative = np.where(np.isfinite(difference), difference / magnitude, np.inf)
    outside = ~((exported >= low) & (exported <= high))
    if np.any(outside):
        worst = int(np.argmax(np.where(outside, relative, -1.0)))
        problems.append(
            f"{int(outside.sum())} of {len(kept)} scores differ from score_samples by more than rtol={rtol:g} "
            f"of max(score scale {scale:.4g}, |score|){' (of each member)' if reference.composite else ''}: e.g. "
            f"{'a row of X' if given[worst] else 'a far row'} scores {scores[worst]:.7g}, and {exported[worst]:.7g} "
            f"in ONNX (relative difference {relative[worst]:.3g}, allowed from {low[worst]:.7g} to "
            f"{high[worst]:.7g}).")
    decision = np.asarray(results["decision_function"], dtype=np.float64)
    offset = _offset(estimator)
    if not np.all(np.abs(decision - (exported - offset)) <= rtol * magnitude):
        problems.append("decision_function is not score_samples - offset_.")

    labels = np.asarray(results["predict"]).astype(int)
    mismatch = labels != python["predict"].astype(int)
    if calibrated:
        tie = reference.labels_low != reference.labels_high
    else:
        tie = np.where(low < offset, -1, 1) != np.where(high < offset, -1, 1)
    if np.any(mismatch & ~tie):
        problems.append(f"{int(np.sum(mismatch & ~tie))} label(s) differ from predict for rows away from the "
                        "threshold.")
    p_difference = None
    if calibrated:
        exported_p = np.asarray(results["p_values"], dtype=np.float64)
        p_difference = float(np.max(np.abs(exported_p - python["p_values"])))
        p_outside = ~((exported_p >= reference.p_values_low - rtol) & (exported_p <= reference.p_values_high + rtol))
        if np.any(p_outside):
            problems.append(f"{int(p_outside.sum())} p-value(s) differ from p_values beyond the tolerance (largest "
                            f"difference {p_difference:.3g}).")

    # Batch size 1: a few rows of X and far rows, each scored alone.
    singles = np.r_[np.flatnonzero(given)[:_SINGLE_ROWS], np.flatnonzero(~given)[:_SINGLE_ROWS]]
    single_difference = 0.0
    for i in singles:
        (alone,) = session.run(["score_samples"], {INPUT_NAME: float_inputs[i:i + 1]})
        alone = float(np.asarray(alone).reshape(-1)[0])
        single_difference = max(single_difference, abs(alone - exported[i]))
        if not low[i] <= alone <= high[i]:
            problems.append(f"a row scored alone (batch size 1) scores {alone:.7g} in ONNX, and {scores[i]:.7g} "
                            f"with score_samples (allowed from {low[i]:.7g} to {high[i]:.7g}).")
            break
    far = relative[~given]
    return Bunch(
        passed=not problems, rtol=float(rtol), score_scale=scale, n_rows=int(given.sum()),
        n_far_rows=int((~given).sum()), n_skipped=int(len(all_rows) - len(kept)),
        max_abs_difference=float(np.max(difference)), max_relative_difference=float(np.max(relative[given]))
        if given.any() else 0.0, max_relative_difference_far=float(np.max(far)) if far.size else 0.0,
        batch_size_one_max_difference=single_difference, label_mismatches=int(mismatch.sum()),
        label_mismatches_at_ties=int((mismatch & tie).sum()), max_p_value_difference=p_difference,
        problems=problems)


def _write_atomically(data, path):
    """Write ``data`` to ``path`` through a temporary file in the same folder, renamed over it when complete."""
    path = Path(path)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        raise


def to_onnx(estimator, X, *, path=None, rtol=DEFAULT_RTOL):
    """Export a fitted estimator's scoring path to ONNX, checked against the estimator before it is returned.

    The model takes float32 input named ``"X"``: rows of shape ``(N, n_features)`` when ``X`` is 2-D, images
    of shape ``(N, C, H, W)`` (or ``(N, H, W)``) when ``X`` holds images, for a detector fitted on that image
    shape. ``N`` is any batch size, 1 included. Its outputs, each of shape ``(N,)``:

    - ``"score_samples"`` (float32): the estimator's ``score_samples``, higher = more normal, with the cap on
      rows far outside the training data;
    - ``"decision_function"`` (float32): ``score_samples - offset_``;
    - ``"predict"`` (int64): +1 inlier, -1 outlier, as ``predict`` (``score_samples < offset_``; for a
      calibrated detector, ``p_values <= false_alarm_rate``);
    - ``"p_values"`` (float32), for a :class:`~skanomaly.calibration.CalibratedDetector` (alone or at the end of
      a pipeline) only.

    The model's metadata (``metadata_props``) records the skanomaly version, the estimator's class, its
    ``offset_``, the input shape, the feature names of a DataFrame ``X`` and the check's measured differences.

    Parameters
    ----------
    estimator : estimator object
        A fitted skanomaly detector, :class:`~skanomaly.ensemble.SeedEnsembleDetector`,
        :class:`~skanomaly.ensemble.ScoreCombinationDetector` (members: skanomaly detectors, scikit-learn outlier
        detectors that ``skl2onnx`` converts, or pipelines of them), :class:`~skanomaly.calibration.CalibratedDetector`
        around any of these, or a ``Pipeline`` of ``skl2onnx``-convertible transformers ending in one of them.
    X : array-like of shape (n_samples, n_features), or images of shape (n_samples, C, H, W) or (n_samples, H, W)
        Rows of the training distribution (a few hundred are enough; at most 2048 are used): they set the input
        layout and the score scale of the check, and the far rows of the check lie around them.
    path : str or path-like or None, default=None
        Where to write the model (an ``.onnx`` file). It is written to a temporary file in the same folder and
        renamed when complete, and only when the check passed: a refused export writes nothing, and a file
        already at ``path`` stays as it was.
    rtol : float, default=1e-5
        The tolerance of the check, relative to the score scale (see :func:`check_onnx`).

    Returns
    -------
    model : onnx.ModelProto
        The checked model; ``model.SerializeToString()`` gives the bytes of an ``.onnx`` file.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator (or one of its members or steps) is not fitted.
    ExportError
        If a part cannot be exported (the message names the member or step), if ``X`` does not fit the
        estimator (its width, its image shape, images for an estimator without a fixed image shape), or if the
        exported model's scores or labels differ from the estimator's beyond the tolerance.
    ImportError
        If the optional packages are missing (``pip install "skanomaly[onnx]"``).

    See Also
    --------
    check_onnx : the check, on other rows or of a model read from a file.

    Examples
    --------
    >>> from skanomaly.datasets import make_multimodal_2d
    >>> from skanomaly.detectors import AutoEncoderDetector
    >>> from skanomaly.export import to_onnx
    >>> X, _ = make_multimodal_2d(n_samples=200, random_state=0)
    >>> detector = AutoEncoderDetector(max_epochs=2, random_state=0).fit(X)
    >>> model = to_onnx(detector, X)  # doctest: +SKIP
    >>> [output.name for output in model.graph.output]  # doctest: +SKIP
    ['score_samples', 'decision_function', 'predict']
    """
    _require_onnx_packages()
    import skanomaly

    _check_fitted(estimator, _describe(estimator))
    if not (isinstance(rtol, (int, float)) and not isinstance(rtol, bool) and 0 < rtol < 1):
        raise ValueError(f"rtol must be a float in (0, 1), got {rtol!r}.")
    rows, sample_shape = _input_layout(estimator, X)
    metadata = {
        "skanomaly_version": skanomaly.__version__,
        "estimator": _describe(estimator),
        "offset": repr(_offset(estimator)),
        "input_shape": json.dumps(["N", *sample_shape]),
        "outputs": "score_samples: higher = more normal; decision_function = score_samples - offset; "
                   "predict: +1 inlier, -1 outlier",
    }
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        metadata["feature_names"] = json.dumps([str(name) for name in names])
    model = _build(estimator, sample_shape, rows.shape[1], metadata)
    report = check_onnx(model, estimator, X, rtol=rtol)
    if not report.passed:
        raise ExportError(f"the ONNX export of {_describe(estimator)} does not score as the estimator does, so it "
                          "is refused: " + " ".join(report.problems))
    for key in ("rtol", "score_scale", "max_relative_difference", "max_relative_difference_far"):
        entry = model.metadata_props.add()
        entry.key, entry.value = f"check_{key}", repr(report[key])
    if path is not None:
        _write_atomically(model.SerializeToString(), path)
    return model
