"""Reading rows a chunk at a time, and the threshold from a held-out stream (:mod:`skanomaly.streaming`)."""

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from skanomaly.detectors import AutoEncoderDetector
from skanomaly.streaming import _ScoreSample, iter_chunks, set_offset_from_stream

RNG = np.random.RandomState(0)
X = RNG.rand(1000, 4).astype(np.float32)


def test_npy_files_and_arrays_are_read_a_chunk_at_a_time(tmp_path):
    np.save(tmp_path / "rows.npy", X)
    for source in (tmp_path / "rows.npy", str(tmp_path / "rows.npy"), X, np.load(tmp_path / "rows.npy", mmap_mode="r")):
        chunks = list(iter_chunks(source, chunk_rows=300))
        assert [len(chunk) for chunk in chunks] == [300, 300, 300, 100]
        assert all(type(chunk) is np.ndarray and chunk.dtype == np.float32 for chunk in chunks)
        np.testing.assert_array_equal(np.vstack(chunks), X)


def test_bad_sources_are_refused(tmp_path):
    np.save(tmp_path / "flat.npy", X.ravel())
    with pytest.raises(ValueError, match="2-D C-ordered"):
        next(iter_chunks(tmp_path / "flat.npy"))
    with open(tmp_path / "short.npy", "wb") as file:  # a header promising more rows than the file holds
        np.lib.format.write_array_header_1_0(file, {"descr": "<f4", "fortran_order": False, "shape": (10, 4)})
        X[:5].tofile(file)
    with pytest.raises(ValueError, match="ends before the 10 rows"):
        list(iter_chunks(tmp_path / "short.npy", chunk_rows=4))
    with pytest.raises(ValueError, match="reads .npy and .parquet"):
        next(iter_chunks(tmp_path / "rows.csv"))
    with pytest.raises(ValueError, match="chunk_rows"):
        next(iter_chunks(X, chunk_rows=0))
    with pytest.raises(ValueError, match="2-D array"):
        next(iter_chunks(X.ravel()))


def test_parquet_files_are_read_as_frames(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pd.DataFrame(X, columns=list("abcd")).to_parquet(tmp_path / "rows.parquet", row_group_size=250)
    chunks = list(iter_chunks(tmp_path / "rows.parquet", chunk_rows=300, columns=["a", "c"]))
    assert all(list(chunk.columns) == ["a", "c"] for chunk in chunks)
    np.testing.assert_array_equal(np.vstack([chunk.to_numpy() for chunk in chunks]), X[:, [0, 2]])


def test_the_score_sample_is_exact_then_uniform():
    exact = _ScoreSample(100, 0)
    exact.add(np.arange(60))
    exact.add(np.arange(60, 100))
    np.testing.assert_array_equal(exact.values, np.arange(100))
    # Beyond its size, every score is kept with the same probability (20 of 100 here), whatever its chunk.
    counts = np.zeros(100)
    for seed in range(4000):
        sample = _ScoreSample(20, seed)
        for start in range(0, 100, 7):
            sample.add(np.arange(start, min(start + 7, 100)))
        assert sample.seen == 100 and len(np.unique(sample.values)) == 20
        counts[sample.values.astype(int)] += 1
    share = counts / 4000
    assert np.abs(share - 0.2).max() < 0.03  # 4.7 binomial standard deviations


def test_the_offset_is_the_contamination_quantile_of_the_stream():
    detector = AutoEncoderDetector(max_epochs=2, hidden_layer_sizes=(4,), random_state=0).fit(X[:300])
    held_out = X[300:]
    set_offset_from_stream(detector, iter_chunks(held_out, chunk_rows=128), contamination=0.05)
    assert detector.offset_ == np.percentile(detector.score_samples(held_out), 5.0)
    assert np.mean(detector.predict(held_out) == -1) == pytest.approx(0.05, abs=1 / len(held_out))
    set_offset_from_stream(detector, iter_chunks(held_out, chunk_rows=128))  # the detector's contamination
    assert detector.offset_ == np.percentile(detector.score_samples(held_out), 10.0)
    # A sample of 200 of the 700 scores: close to the exact quantile.
    set_offset_from_stream(detector, iter_chunks(held_out, chunk_rows=128), max_scores=200, random_state=1)
    rank = np.mean(detector.score_samples(held_out) < detector.offset_)
    assert abs(rank - 0.1) < 0.05


def test_pipelines_and_other_detectors_get_their_offset_set():
    pipeline = make_pipeline(MinMaxScaler(), IsolationForest(n_estimators=20, random_state=0)).fit(X[:300])
    assert set_offset_from_stream(pipeline, [X[300:600], X[600:]], contamination=0.2) is pipeline
    assert pipeline[-1].offset_ == np.percentile(pipeline.score_samples(X[300:]), 20.0)
    assert np.mean(pipeline.predict(X[300:]) == -1) == pytest.approx(0.2, abs=1 / 700)


def test_bad_streams_and_settings_are_refused():
    detector = AutoEncoderDetector(max_epochs=1, hidden_layer_sizes=(4,), random_state=0).fit(X[:300])
    offset = detector.offset_
    with pytest.raises(ValueError, match="held no row"):
        set_offset_from_stream(detector, [])
    with pytest.raises(ValueError, match="contamination"):
        set_offset_from_stream(detector, [X], contamination=0.7)
    with pytest.raises(ValueError, match="max_scores"):
        set_offset_from_stream(detector, [X], max_scores=0)
    with pytest.raises(ValueError, match="NaN"):
        set_offset_from_stream(detector, [X[:10], np.full((3, 4), np.nan)])
    assert detector.offset_ == offset  # nothing was set by the failed calls


def test_calibrating_on_a_stream_equals_calibrating_on_its_rows_in_memory():
    from sklearn.frozen import FrozenEstimator

    from skanomaly.calibration import CalibratedDetector
    from skanomaly.streaming import calibrate_from_stream

    detector = AutoEncoderDetector(max_epochs=2, hidden_layer_sizes=(4,), random_state=0).fit(X[:300])
    held_out, new = X[300:800], np.vstack([X[800:], RNG.rand(20, 4).astype(np.float32) * 3])
    streamed = calibrate_from_stream(detector, iter_chunks(held_out, chunk_rows=128), false_alarm_rate=0.1)
    in_memory = CalibratedDetector(FrozenEstimator(detector), false_alarm_rate=0.1).fit(held_out)
    for name in ("calibration_scores_", "calibration_folds_", "n_calibration_", "offset_", "n_features_in_"):
        np.testing.assert_array_equal(getattr(streamed, name), getattr(in_memory, name), err_msg=name)
    for method in ("p_values", "score_samples", "predict"):
        np.testing.assert_array_equal(getattr(streamed, method)(new), getattr(in_memory, method)(new))
    # A sample of the stream's scores calibrates with n = max_scores.
    sampled = calibrate_from_stream(detector, iter_chunks(held_out, chunk_rows=128), false_alarm_rate=0.1,
                                    max_scores=99)
    assert sampled.n_calibration_ == 99 and sampled.offset_ == 10 / 100
    assert set(sampled.calibration_scores_) <= set(in_memory.calibration_scores_)
    assert np.all(np.diff(sampled.calibration_scores_) >= 0)
    with pytest.raises(ValueError, match="false_alarm_rate=0.001 is below the smallest p-value"):
        calibrate_from_stream(detector, [held_out[:50]], false_alarm_rate=0.001)
    with pytest.raises(TypeError, match="calibrate_from_stream"):
        set_offset_from_stream(streamed, [held_out])
