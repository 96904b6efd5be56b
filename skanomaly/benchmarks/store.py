"""The run store: an SQLite database (``runs.sqlite``) holding every finished run of an output folder.

Each finished run is written in its own transaction by the process that collects the results, the moment it
finishes; several processes may write into one store at once (WAL journal, a busy timeout, and
``INSERT OR REPLACE`` on the run key). ``results.csv`` and ``summary.md`` are exports of the store: the row
stored last for each (detector, dataset, protocol, seed, class). A folder that has a ``results.csv`` but no
store gets the CSV imported into a new store first, so that committed results count as finished runs.

A write that fails (a full disk, a file size limit, an I/O error) rolls its own transaction back and raises
:class:`StoreWriteError`: the runs stored before it stay readable, and the same benchmark resumes from them once
the cause is gone.
"""

from __future__ import annotations

import errno
import math
import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from .results import RESULT_COLUMNS, ResultsFileError, current_rows, normalize_results, read_results, run_key

__all__ = ["STORE_NAME", "RunStore", "StoreError", "StoreWriteError"]

#: File name of the run store inside an output folder.
STORE_NAME = "runs.sqlite"

_BUSY_TIMEOUT_S = 120.0


class StoreError(ResultsFileError):
    """The run store cannot be opened, read or written; the message names the file."""


class StoreWriteError(StoreError):
    """The run store or one of its exports cannot be written: the disk is full, a file size limit is reached, or
    the disk fails.

    The message names the file and the cause on one line. The rows stored before the failure are kept; once the
    cause is gone, the same benchmark resumes from them.
    """


# Result codes of SQLite (the primary code, without the extended bits) that mean the data could not be written.
_SQLITE_WRITE_FAILURES = {10: "disk I/O error", 13: "database or disk is full"}  # SQLITE_IOERR, SQLITE_FULL
_WRITE_FAILURE_ERRNOS = {getattr(errno, name) for name in ("ENOSPC", "EFBIG", "EDQUOT", "EIO")
                         if hasattr(errno, name)}


def _is_write_failure(exc):
    """Whether the ``sqlite3.Error`` ``exc`` says the disk could not take the data (full, limit, I/O error)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    if code is not None:
        return code & 0xFF in _SQLITE_WRITE_FAILURES
    text = str(exc)
    return any(message in text for message in _SQLITE_WRITE_FAILURES.values())


def _rollback(conn):
    """Roll back the open transaction, if any; a failing rollback never hides the error that led to it.

    SQLite ends the transaction itself after a full disk or an I/O error, so there may be none left.
    """
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def _quote(name):
    return '"' + name.replace('"', '""') + '"'


def _sql_value(value):
    if value is None or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return "True" if value else "False"
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (int, str)):
        return value
    return str(value)


class RunStore:
    """The run store of one output folder.

    Parameters
    ----------
    folder : str or path-like
        Output folder; created when missing. The store is ``folder / "runs.sqlite"``.

    Raises
    ------
    StoreError
        When the folder cannot be created or written, or the store is not a readable database.
    StoreWriteError
        When a new store cannot be written (a full disk, a file size limit, an I/O error).
    ResultsFileError
        When the folder's ``results.csv`` must be imported and cannot be read.
    """

    def __init__(self, folder):
        self.folder = Path(folder)
        self.path = self.folder / STORE_NAME
        self.csv_path = self.folder / "results.csv"
        self.summary_path = self.folder / "summary.md"
        if self.folder.exists() and not self.folder.is_dir():
            raise StoreError(f"The output folder {self.folder} is an existing file, not a folder.")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"Cannot create the output folder {self.folder}: {exc.strerror or exc}.") from None
        if not os.access(self.folder, os.W_OK | os.X_OK):
            raise StoreError(f"The output folder {self.folder} is not writable.")
        self._columns = ["run_key", "run_id", *RESULT_COLUMNS]
        try:
            self._conn = sqlite3.connect(str(self.path), timeout=_BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"Cannot open the run store {self.path}: {exc}.") from None
        try:
            self._setup()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if _is_write_failure(exc):
                raise StoreWriteError(f"Cannot write to the run store {self.path}: {exc} (a full disk, a file "
                                      "size limit or a failing disk).") from None
            raise StoreError(f"The run store {self.path} is not a readable SQLite database ({exc}); move it "
                             "away to start a new store (results.csv is then imported).") from None
        except BaseException:
            self._conn.close()
            raise

    # -- schema ---------------------------------------------------------------------------------------------
    def _setup(self):
        conn = self._conn
        conn.execute(f"PRAGMA busy_timeout = {int(_BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)")
            columns = ", ".join(_quote(c) for c in RESULT_COLUMNS)
            conn.execute("CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                         f"run_key TEXT NOT NULL UNIQUE, run_id TEXT, {columns})")
            conn.execute("CREATE INDEX IF NOT EXISTS runs_run_id ON runs (run_id)")
            present = {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
            for col in RESULT_COLUMNS:  # columns added to the schema after the store was created
                if col not in present:
                    conn.execute(f"ALTER TABLE runs ADD COLUMN {_quote(col)}")
            created = conn.execute("SELECT value FROM meta WHERE name = 'created'").fetchone()
            if created is None:
                if self.csv_path.exists():
                    self._insert(read_results(self.csv_path).to_dict("records"), run_id=None)
                conn.execute("INSERT INTO meta VALUES ('created', datetime('now'))")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    def _insert(self, rows, run_id):
        placeholders = ", ".join("?" for _ in self._columns)
        sql = (f"INSERT OR REPLACE INTO runs ({', '.join(_quote(c) for c in self._columns)}) "
               f"VALUES ({placeholders})")
        values = []
        for row in rows:
            key = run_key(row)
            values.append([key, run_id or key] + [_sql_value(row.get(c)) for c in RESULT_COLUMNS])
        self._conn.executemany(sql, values)

    def _guard(self, what):
        store = self

        class _Guard:
            def __enter__(self):
                return store._conn

            def __exit__(self, exc_type, exc, tb):
                if exc_type is not None and issubclass(exc_type, sqlite3.Error):
                    if _is_write_failure(exc):
                        raise StoreWriteError(f"Cannot {what} the run store {store.path}: {exc} (a full disk, a "
                                              "file size limit or a failing disk).") from None
                    raise StoreError(f"Cannot {what} the run store {store.path}: {exc}.") from None
                return False

        return _Guard()

    # -- public API -----------------------------------------------------------------------------------------
    def add_run(self, rows):
        """Store the rows of one finished run (the detector's row and its ablation rows) in one transaction.

        Parameters
        ----------
        rows : list of dict
            Result rows; the first one's run key identifies the run (its ``run_id``).

        Raises
        ------
        StoreWriteError
            When the rows cannot be written (a full disk, a file size limit, an I/O error). Nothing of the run
            is stored; the rows stored before stay.
        """
        if not rows:
            return
        with self._guard("write to") as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                self._insert(rows, run_id=run_key(rows[0]))
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise

    def ok_keys(self):
        """Run keys stored with ``status="ok"``.

        Returns
        -------
        keys : set of str
        """
        with self._guard("read") as conn:
            return {row[0] for row in conn.execute("SELECT run_key FROM runs WHERE status = 'ok'")}

    def read(self, run_ids=None):
        """Stored rows in the order they were stored.

        Parameters
        ----------
        run_ids : collection of str, default=None
            Only the rows of these runs (run keys of their first row); ``None``: every row.

        Returns
        -------
        rows : pandas.DataFrame
        """
        columns = ", ".join(_quote(c) for c in RESULT_COLUMNS)
        with self._guard("read") as conn:
            if run_ids is None:
                cursor = conn.execute(f"SELECT {columns} FROM runs ORDER BY id")
                records = cursor.fetchall()
            else:
                records, ids = [], list(run_ids)
                for start in range(0, len(ids), 500):
                    chunk = ids[start:start + 500]
                    marks = ", ".join("?" for _ in chunk)
                    records += conn.execute(f"SELECT id, {columns} FROM runs WHERE run_id IN ({marks})",
                                            chunk).fetchall()
                records = [r[1:] for r in sorted(records, key=lambda r: r[0])]
        return normalize_results(pd.DataFrame.from_records(records, columns=RESULT_COLUMNS))

    def export(self, summarize=None):
        """Rewrite ``results.csv`` (and ``summary.md`` with ``summarize``) from the stored rows.

        The export holds the store's write lock, so exports of processes sharing the store never overwrite a
        newer export with an older one.

        Parameters
        ----------
        summarize : callable, default=None
            ``summarize(rows) -> markdown`` for ``summary.md``; ``None`` writes only the CSV.

        Returns
        -------
        rows : pandas.DataFrame
            The exported rows.
        """
        with self._guard("export") as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                rows = current_rows(self.read())
                _write_atomic(self.csv_path, rows.to_csv(index=False))
                if summarize is not None:
                    _write_atomic(self.summary_path, summarize(rows))
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        return rows

    def close(self):
        """Close the database connection."""
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
        return False


def _write_atomic(path, text):
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        error = StoreWriteError if exc.errno in _WRITE_FAILURE_ERRNOS else StoreError
        raise error(f"Cannot write {path}: {exc.strerror or exc}.") from None
