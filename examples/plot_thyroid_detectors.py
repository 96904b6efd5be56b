"""
Thyroid: an autoencoder beside IsolationForest under the top-k% protocol
========================================================================

The tabular novelty protocol of the DAGMM/ALAD papers on the embedded ODDS Thyroid data: a random 50/50 split,
anomalies removed from the training half, min-max scaling fitted on the training half, and precision/recall/F1
of the anomaly class when the 2.5 % highest anomaly scores of the test half are flagged.

Run: ``python examples/plot_thyroid_detectors.py`` (needs matplotlib: ``pip install "skanomaly[plot]"``).
"""

import matplotlib.pyplot as plt
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skanomaly.datasets import load_thyroid
from skanomaly.detectors import AutoEncoderDetector
from skanomaly.metrics import anomaly_report
from skanomaly.model_selection import novelty_train_test_split
from skanomaly.plotting import plot_roc, plot_score_histogram

data = load_thyroid()
X_train, X_test, _, y_test = novelty_train_test_split(data.data, data.target, random_state=0)

detectors = {
    "AutoEncoderDetector": AutoEncoderDetector(random_state=0),
    "IsolationForest": IsolationForest(random_state=0),
}
anomaly_scores = {}
for name, detector in detectors.items():
    model = make_pipeline(MinMaxScaler(), detector).fit(X_train)
    anomaly_scores[name] = -model.score_samples(X_test)  # higher = more anomalous
    report = anomaly_report(y_test, anomaly_scores[name], k=data.anomaly_ratio)
    print(f"{name:20s} " + "  ".join(f"{key}={value:.3f}" for key, value in report.items()))

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
plot_roc(y_test, anomaly_scores, ax=axes[0])
plot_score_histogram(y_test, anomaly_scores["AutoEncoderDetector"], ax=axes[1])
axes[1].set_title("AutoEncoderDetector scores on the test half")
fig.tight_layout()
plt.show()
