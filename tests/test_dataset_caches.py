"""Damaged caches are rebuilt, temporary files of killed writes are cleaned up, damaged source files are named."""

import gzip
import os
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest

from skanomaly.datasets import _base, _images, _kddcup99, fetch_kddcup99

CACHE = _kddcup99.KDD_CACHE_FILE
SOURCE = "kddcup.data_10_percent.gz"


def _kdd_lines(n_rows=60, seed=0):
    """Synthetic lines in the KDD Cup 1999 format: 41 features and a label ending in a dot."""
    rng = np.random.default_rng(seed)
    protocols = ["tcp", "udp", "icmp"]
    services = ["http", "ftp", "smtp", "private", "ecr_i"]
    flags = ["SF", "S0", "REJ"]
    labels = ["normal.", "smurf.", "neptune.", "back."]
    lines = []
    for i in range(n_rows):
        numeric = rng.integers(0, 500, size=41).astype(float)
        fields = [f"{v:g}" for v in numeric]
        fields[1] = protocols[i % 3]
        fields[2] = services[i % 5]
        fields[3] = flags[i % 3]
        for position in (6, 11, 20, 21):  # land, logged_in, is_host_login, is_guest_login
            fields[position] = str(int(rng.integers(0, 2)))
        fields.append(labels[i % 4])
        lines.append(",".join(fields))
    return "\n".join(lines) + "\n"


@pytest.fixture
def kdd_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with gzip.open(home / SOURCE, "wt") as fh:
        fh.write(_kdd_lines())
    return home


def _load_quietly(home):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning expected
        return fetch_kddcup99(data_home=home)


def _assert_same(a, b):
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.target, b.target)
    np.testing.assert_array_equal(a.attack_type, b.attack_type)
    assert a.feature_names == b.feature_names


def _reference(home):
    return fetch_kddcup99(data_home=home, cache=False)


def _flip_bit(path, position, bit=0):
    raw = bytearray(path.read_bytes())
    raw[position] ^= 1 << bit
    keep = path.stat().st_mtime
    path.write_bytes(bytes(raw))
    os.utime(path, (keep, keep))  # the damage alone, not a newer source, must trigger the rebuild


def _member_data_offset(path, member):
    """Offset of the middle of a zip member's compressed data in ``path``."""
    import zipfile

    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    raw = path.read_bytes()
    header = info.header_offset
    name_len = int.from_bytes(raw[header + 26:header + 28], "little")
    extra_len = int.from_bytes(raw[header + 28:header + 30], "little")
    start = header + 30 + name_len + extra_len
    return start + info.compress_size // 2


def test_bit_flipped_kdd_cache_is_rebuilt_with_a_warning(kdd_home):
    reference = _reference(kdd_home)
    fetch_kddcup99(data_home=kdd_home)
    cache = kdd_home / CACHE
    _flip_bit(cache, _member_data_offset(cache, "numeric.npy"), bit=3)

    with pytest.warns(UserWarning, match=r"cache .* is unreadable or damaged .*rebuilding it from the source"):
        rebuilt = fetch_kddcup99(data_home=kdd_home)
    _assert_same(rebuilt, reference)
    # the rebuilt cache is sound: the next load reads it without a warning and without parsing the source
    parsed = []
    original = _kddcup99._parse_source
    _kddcup99._parse_source = lambda path: parsed.append(path) or original(path)
    try:
        _assert_same(_load_quietly(kdd_home), reference)
    finally:
        _kddcup99._parse_source = original
    assert parsed == []


def test_every_single_bit_flip_of_the_cache_gives_the_right_data(kdd_home):
    """Flips spread over the whole file: a load never raises and never returns other data than the source's."""
    reference = _reference(kdd_home)
    fetch_kddcup99(data_home=kdd_home)
    cache = kdd_home / CACHE
    pristine = cache.read_bytes()
    warned = 0
    for position in np.linspace(0, len(pristine) - 1, 60).astype(int):
        cache.write_bytes(pristine)
        _flip_bit(cache, int(position), bit=int(position) % 8)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = fetch_kddcup99(data_home=kdd_home)
        _assert_same(loaded, reference)
        warned += any("rebuilding it from the source" in str(w.message) for w in caught)
    assert warned >= 30  # most flips land in checked bytes (data, CRCs, headers) and are caught


def _write_npz(path, **arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)


def _valid_arrays(home):
    cache = home / CACHE
    with np.load(cache) as npz:
        return {key: npz[key] for key in npz.files}


@pytest.mark.parametrize(
    "damage",
    ["truncated", "empty", "not_a_zip", "missing_key", "wrong_shape", "wrong_dtype", "codes_out_of_range",
     "object_array", "mismatched_rows"],
)
def test_damaged_kdd_cache_is_rebuilt(kdd_home, damage):
    reference = _reference(kdd_home)
    fetch_kddcup99(data_home=kdd_home)
    cache = kdd_home / CACHE
    arrays = _valid_arrays(kdd_home)
    if damage == "truncated":
        cache.write_bytes(cache.read_bytes()[: cache.stat().st_size // 2])
    elif damage == "empty":
        cache.write_bytes(b"")
    elif damage == "not_a_zip":
        cache.write_bytes(b"this is not an npz file" * 10)
    elif damage == "missing_key":
        del arrays["codes"]
        _write_npz(cache, **arrays)
    elif damage == "wrong_shape":
        arrays["numeric"] = arrays["numeric"][:, :5]
        _write_npz(cache, **arrays)
    elif damage == "wrong_dtype":
        arrays["attack_type"] = np.zeros(arrays["attack_type"].shape[0])
        _write_npz(cache, **arrays)
    elif damage == "codes_out_of_range":
        arrays["codes"] = arrays["codes"] + 50
        _write_npz(cache, **arrays)
    elif damage == "object_array":
        arrays["attack_type"] = arrays["attack_type"].astype(object)
        _write_npz(cache, **arrays)
    elif damage == "mismatched_rows":
        arrays["codes"] = arrays["codes"][:-1]
        _write_npz(cache, **arrays)
    future = time.time() + 10
    os.utime(cache, (future, future))  # newer than the source: only its content can make it stale

    with pytest.warns(UserWarning, match="rebuilding it from the source"):
        rebuilt = fetch_kddcup99(data_home=kdd_home)
    _assert_same(rebuilt, reference)
    _assert_same(_load_quietly(kdd_home), reference)


def test_stale_cache_of_another_version_is_rebuilt_silently(kdd_home):
    reference = _reference(kdd_home)
    fetch_kddcup99(data_home=kdd_home)
    arrays = _valid_arrays(kdd_home)
    arrays["version"] = np.int64(0)
    arrays["numeric"] = arrays["numeric"] + 1.0
    _write_npz(kdd_home / CACHE, **arrays)
    _assert_same(_load_quietly(kdd_home), reference)


def _dead_pid():
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_orphan_temporary_files_are_removed_on_the_next_write(kdd_home):
    host = _base._host_tag()
    prefix = _base.CACHE_TMP_PREFIX
    orphan = kdd_home / f"{prefix}{host}-{_dead_pid()}-abc.npz"
    old_foreign = kdd_home / f"{prefix}otherhost-123-def.npz"
    fresh_foreign = kdd_home / f"{prefix}otherhost-456-ghi.npz"
    own_process = kdd_home / f"{prefix}{host}-{os.getpid()}-jkl.npz"
    unrelated = kdd_home / "notes.tmp"
    for path in (orphan, old_foreign, fresh_foreign, own_process, unrelated):
        path.write_bytes(b"partial")
    past = time.time() - 2 * 3600
    os.utime(old_foreign, (past, past))

    fetch_kddcup99(data_home=kdd_home)  # writes the cache

    assert not orphan.exists()  # its writer is dead
    assert not old_foreign.exists()  # over an hour old
    assert fresh_foreign.exists()  # may be a write in progress on another host
    assert own_process.exists()  # this process is alive
    assert unrelated.exists()  # not skanomaly's
    assert (kdd_home / CACHE).is_file()


_KILLED_WRITER = """
import os, signal, sys
import numpy as np
from skanomaly.datasets import _base

def killed_savez(fh, **arrays):
    fh.write(b"PK half of a zip file")
    fh.flush()
    os.kill(os.getpid(), signal.SIGKILL)

np.savez_compressed = killed_savez
_base._write_npz_cache(_base.Path(sys.argv[1]), {"a": np.zeros(3)}, what="test")
"""


def test_a_write_killed_midway_leaves_the_cache_intact_and_its_temporary_file_is_removed_later(kdd_home):
    reference = _reference(kdd_home)
    fetch_kddcup99(data_home=kdd_home)
    before = (kdd_home / CACHE).read_bytes()

    result = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(kdd_home / CACHE)], capture_output=True)
    assert result.returncode == -9, result.stderr.decode()
    leftovers = [p for p in kdd_home.iterdir() if p.name.startswith(_base.CACHE_TMP_PREFIX)]
    assert len(leftovers) == 1
    assert (kdd_home / CACHE).read_bytes() == before  # the replace never happened

    _assert_same(_load_quietly(kdd_home), reference)  # the intact cache is read
    os.remove(kdd_home / CACHE)
    _assert_same(fetch_kddcup99(data_home=kdd_home), reference)  # the next write removes the orphan
    assert not any(p.name.startswith(_base.CACHE_TMP_PREFIX) for p in kdd_home.iterdir())


# --------------------------------------------------------------------------------------- damaged sources
def test_truncated_kdd_source_names_the_file_and_how_to_get_a_good_copy(kdd_home):
    source = kdd_home / SOURCE
    source.write_bytes(source.read_bytes()[: source.stat().st_size * 2 // 3])
    with pytest.raises(ValueError) as info:
        fetch_kddcup99(data_home=kdd_home)
    message = str(info.value)
    assert str(source) in message and "truncated" in message
    assert "download" in message and "UCI" in message and "gzip -t" in message
    assert not (kdd_home / CACHE).exists()


def test_corrupt_kdd_source_names_the_file(kdd_home):
    source = kdd_home / SOURCE
    raw = bytearray(source.read_bytes())
    for position in range(20, len(raw) - 12, 7):  # damage the compressed stream, not the gzip header
        raw[position] ^= 0xFF
    source.write_bytes(bytes(raw))
    with pytest.raises(ValueError) as info:
        fetch_kddcup99(data_home=kdd_home, cache=False)
    message = str(info.value)
    assert str(source) in message and "damaged" in message and "UCI" in message


def test_bad_crc_of_kdd_source_is_reported(kdd_home):
    source = kdd_home / SOURCE
    raw = bytearray(source.read_bytes())
    raw[-8] ^= 0x01  # the CRC-32 in the gzip trailer
    source.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="damaged") as info:
        fetch_kddcup99(data_home=kdd_home, cache=False)
    assert str(source) in str(info.value)


def test_kdd_source_cut_mid_line_is_reported_with_advice(tmp_path):
    text = _kdd_lines()
    (tmp_path / "kddcup.data_10_percent").write_text(text[: len(text) // 2 + 7])
    with pytest.raises(ValueError, match="missing fields") as info:
        fetch_kddcup99(data_home=tmp_path, cache=False)
    assert "download" in str(info.value)


def test_truncated_gzipped_idx_file_names_the_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    header = bytes([0, 0, 0x08, 3]) + np.array([2, 28, 28], dtype=">u4").tobytes()
    with gzip.open(path, "wb") as fh:
        fh.write(header + bytes(range(256)) * 6)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(ValueError) as info:
        _images._read_idx(path)
    message = str(info.value)
    assert str(path) in message and "truncated" in message and "download it again" in message


def test_damaged_packaged_file_says_to_reinstall(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    (package / "data").mkdir(parents=True)
    (package / "data" / "thyroid.npz").write_bytes(b"PK\x03\x04 damaged")

    class FakeFiles:
        def joinpath(self, *parts):
            return package.joinpath(*parts)

    monkeypatch.setattr(_base.resources, "files", lambda name: FakeFiles())
    with pytest.raises(OSError, match="Reinstall skanomaly") as info:
        _base._load_packaged_arrays("thyroid")
    assert "thyroid.npz" in str(info.value)
