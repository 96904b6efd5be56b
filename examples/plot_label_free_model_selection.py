"""
Choosing hyper-parameters without labelled anomalies
====================================================

Cross-validate on the normal training data only: each candidate is fitted on part of it and judged by how well
it separates the held-out normal rows from synthetic anomalies made out of them
(:func:`skanomaly.metrics.make_synthetic_anomaly_scorer`). No anomaly label is read until the chosen model is
evaluated on the test half of the Thyroid novelty split.

Run: ``python examples/label_free_model_selection.py`` (a few minutes on a CPU).
"""

import pandas as pd
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skanomaly.datasets import load_thyroid
from skanomaly.detectors import AutoEncoderDetector
from skanomaly.metrics import anomaly_report, make_synthetic_anomaly_scorer
from skanomaly.model_selection import novelty_train_test_split

data = load_thyroid()
X_train, X_test, _, y_test = novelty_train_test_split(data.data, data.target, random_state=0)

pipeline = make_pipeline(MinMaxScaler(), AutoEncoderDetector(max_epochs=20, random_state=0))
grid = {"autoencoderdetector__latent_dim": [1, 4], "autoencoderdetector__hidden_layer_sizes": [(8,), (64,)]}
search = GridSearchCV(pipeline, grid, cv=KFold(3, shuffle=True, random_state=0),
                      scoring=make_synthetic_anomaly_scorer("perturb", random_state=0))
search.fit(X_train)  # normal rows only, no y

results = pd.DataFrame(search.cv_results_["params"])
results["synthetic AUROC (CV)"] = search.cv_results_["mean_test_score"]
# For illustration only: the test metric of every candidate, which a label-free search never sees.
for i, params in enumerate(search.cv_results_["params"]):
    model = clone(pipeline).set_params(**params).fit(X_train)
    results.loc[i, "test AUROC"] = anomaly_report(y_test, -model.score_samples(X_test))["roc_auc"]
print(results.round(3).to_string(index=False))

report = anomaly_report(y_test, -search.score_samples(X_test), k=data.anomaly_ratio)
print(f"chosen: {search.best_params_}")
print("test: " + "  ".join(f"{key}={value:.3f}" for key, value in report.items()))
