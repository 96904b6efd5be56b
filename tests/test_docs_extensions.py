"""The small Sphinx extensions of docs/_ext: which pages keep a section sidebar, and the smoke-run notice."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

EXTENSIONS = Path(__file__).resolve().parents[1] / "docs" / "_ext"


def _module(name):
    spec = importlib.util.spec_from_file_location(name, EXTENSIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_section_root_is_the_top_level_page_above_a_page():
    section_sidebar = _module("section_sidebar")
    env = SimpleNamespace(config=SimpleNamespace(root_doc="index"), toctree_includes={
        "index": ["install", "choosing", "user_guide/index", "api"],
        "user_guide/index": ["user_guide/ama", "user_guide/deeper/index"],
        "user_guide/deeper/index": ["user_guide/deeper/page"],
        "api": ["generated/skanomaly.detectors.AMADetector"],
    })
    root = section_sidebar.section_root
    assert root(env, "user_guide/deeper/page") == "user_guide/index"
    assert root(env, "user_guide/index") == "user_guide/index"
    assert root(env, "generated/skanomaly.detectors.AMADetector") == "api"
    assert root(env, "choosing") == "choosing"  # top level without sub-pages: its sidebar is dropped
    assert not env.toctree_includes.get(root(env, "choosing"))
    assert root(env, "index") is None and root(env, "orphan") is None


def test_the_smoke_notice_goes_right_under_the_page_title():
    gallery_smoke = _module("gallery_smoke")
    page = (".. _sphx_glr_auto_examples_plot_x.py:\n\n\nThyroid: a title\n================\n\n"
            "The first paragraph.\n\nA section\n---------\n")
    marked = gallery_smoke.add_notice(page)
    title_end = marked.index("================\n") + len("================\n")
    assert marked[title_end:].lstrip().startswith(".. admonition:: Smoke run")
    assert marked.index("Smoke run") < marked.index("The first paragraph.")
    assert marked.replace(gallery_smoke.NOTICE, "") == page
    assert gallery_smoke.add_notice("no title here\n") == "no title here\n"
