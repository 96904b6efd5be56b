"""Import a study script of another benchmark folder, to reuse what it defines (its data sets, say)."""

import importlib.util
from pathlib import Path

HERE = Path(__file__).resolve().parent


def import_script(relative_path):
    """The module of ``docs/benchmarks/<relative_path>``, executed once under a name of its own."""
    path = HERE / relative_path
    name = "_script_" + "_".join(path.relative_to(HERE).with_suffix("").parts)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def git_state():
    """The short commit of the installed skanomaly checkout, for a report's header, noting uncommitted changes
    to the package (``"unknown"`` outside a git checkout)."""
    from skanomaly.benchmarks import environment_info

    info = environment_info()
    if info["git_commit"] == "unknown":
        return "unknown"
    return info["git_commit"][:7] + (" (skanomaly/ had uncommitted changes)" if info["git_dirty"] else "")
