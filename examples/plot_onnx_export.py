"""
Deploying a detector without Python: export to ONNX
===================================================

A fitted pipeline (min-max scaling, then an IsolationForest and an autoencoder whose scores are put on one scale)
becomes one ONNX file with :func:`skanomaly.export.to_onnx`. The file takes float32 rows and returns the pipeline's
``score_samples``, ``decision_function`` and ``predict``; any ONNX runtime scores with it (C++, Java, JavaScript,
C#, ... see :doc:`/deploying`), with no Python, torch or scikit-learn on the machine that scores.

``to_onnx`` checks its own output before it writes anything: ``onnxruntime`` scores the training rows and rows
far outside them, and the export is refused when a score differs from the pipeline's beyond ``rtol=1e-5`` of the
score scale. Here the same comparison is made once more, on the test half of the Thyroid novelty split, which the
export never saw.

**Run time:** 19 s of CPU time on one core (measured with ``OMP_NUM_THREADS=1``), most of it the
autoencoder's 50 training epochs and the export of its network. ``SKANOMALY_SMOKE=1`` trains one epoch;
``SKANOMALY_FULL=1`` changes nothing here (the preset is already trained in full).
"""

# %%
# Fit, export, write one file
# ---------------------------
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import onnxruntime
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skanomaly.datasets import load_thyroid
from skanomaly.detectors import AutoEncoderDetector
from skanomaly.detectors.presets import get_preset
from skanomaly.ensemble import ScoreCombinationDetector
from skanomaly.export import check_onnx, to_onnx
from skanomaly.model_selection import novelty_train_test_split
from skanomaly.plotting import save_example_figures

FULL = os.environ.get("SKANOMALY_FULL") == "1"  # nothing to lengthen: the preset is trained in full
SMOKE = os.environ.get("SKANOMALY_SMOKE") == "1"  # one epoch: checks that the script runs

data = load_thyroid()
X_train, X_test, _, y_test = novelty_train_test_split(data.data, data.target, random_state=0)
preset = get_preset("AutoEncoderDetector", "thyroid")
if SMOKE:
    preset["max_epochs"] = 1
model = make_pipeline(MinMaxScaler(), ScoreCombinationDetector([
    ("iforest", IsolationForest(n_estimators=100, random_state=0)),
    ("autoencoder", AutoEncoderDetector(**preset, random_state=0)),
])).fit(X_train)

folder = Path(tempfile.mkdtemp())
path = folder / "thyroid_detector.onnx"
onnx_model = to_onnx(model, X_train, path=path)  # checked, then written in one step
print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")
print("input:", [(i.name, [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim])
                 for i in onnx_model.graph.input])
print("outputs:", [o.name for o in onnx_model.graph.output])
print({entry.key: entry.value for entry in onnx_model.metadata_props
       if entry.key in ("estimator", "offset", "check_max_relative_difference")})

# %%
# Score the test half with onnxruntime alone
# ------------------------------------------
# What a service does: open the file, feed float32 rows, read the outputs by name. Nothing of
# skanomaly, torch or scikit-learn is used here.
session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
scores, labels = session.run(["score_samples", "predict"], {"X": X_test.astype(np.float32)})

python_scores = model.score_samples(X_test)
scale = np.ptp(model.score_samples(X_train))
relative = np.abs(scores - python_scores) / np.maximum(scale, np.abs(python_scores))
print(f"largest difference on the test half: {relative.max():.2g} of the score scale "
      f"(tolerance {1e-5:g})")
print(f"labels equal to predict: {np.mean(labels == model.predict(X_test)):.1%}")
print(f"anomalies flagged: {np.mean(labels[y_test == 1] == -1):.1%}, "
      f"normal rows flagged: {np.mean(labels[y_test == 0] == -1):.1%}")

# The same comparison as the export's own check, on rows it never saw (and rows far outside them).
report = check_onnx(path, model, X_test)
print(f"check_onnx on the test half: passed={report.passed}, "
      f"largest relative difference {report.max_relative_difference:.2g} (test rows), "
      f"{report.max_relative_difference_far:.2g} (far rows)")

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
normal = y_test == 0
left.scatter(python_scores[normal], scores[normal], s=6, label="normal", alpha=0.5)
left.scatter(python_scores[~normal], scores[~normal], s=10, label="anomaly", color="C3")
line = [python_scores.min(), python_scores.max()]
left.plot(line, line, color="black", linewidth=0.8)
left.axvline(model[-1].offset_, color="grey", linestyle="--", linewidth=0.8, label="threshold")
left.set_xscale("symlog")
left.set_yscale("symlog")
left.set_xlabel("score_samples in Python (float64)")
left.set_ylabel("score_samples in onnxruntime (float32)")
left.legend(fontsize=9)
right.hist(np.log10(np.maximum(relative, 1e-12)), bins=40, color="C0")
right.axvline(-5, color="C3", linestyle="--", label="tolerance (1e-5)")
right.set_xlabel("log10 |difference| / max(score scale, |score|)")
right.set_ylabel("test rows")
right.legend(fontsize=9)
fig.suptitle("Thyroid test half: the exported pipeline scores as the fitted one")
fig.tight_layout()

# %%
# Keep the figures
# ----------------
# Run as a script, the example saves its figures (where:
# :func:`~skanomaly.plotting.save_example_figures`) and shows them when there is a display. In this
# gallery the figures are already on the page. The ONNX file was written to a temporary folder,
# removed here.
path.unlink()
folder.rmdir()
for saved in save_example_figures():
    print(f"saved {saved}")
plt.show()
