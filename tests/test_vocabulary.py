"""One vocabulary across detectors: docs/user_guide/parameters.md against the constructors and their docstrings.

Every constructor parameter of every detector has one row in the table of parameters.md (one name, one meaning),
each cell holds the detector's default (or "–" when it has no such parameter), defaults that differ between
detectors each name their source, every docstring documents every parameter with the constructor's default, and
a parameter shared by several detectors is documented with the same type in each of them.
"""

import ast
import inspect
import re
from pathlib import Path

import pytest

import skanomaly.detectors

TABLE = Path(__file__).resolve().parents[1] / "docs" / "user_guide" / "parameters.md"
ABSENT = "–"
CELL = re.compile(r"^`(?P<value>[^`]*)`(?: \((?P<source>.+)\))?$")


def _same_value(text, value):
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return False
    return parsed == value and type(parsed) is type(value)


def read_table(text):
    """``(columns, rows)``: the detector class of each default column, and ``[(name, meaning, cells)]``."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[:2] == ["parameter", "meaning"], header
    columns = [cell.replace(" ", "") + "Detector" for cell in header[2:]]
    rows = []
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == len(header), f"row with {len(cells)} cells instead of {len(header)}: {line}"
        name = re.fullmatch(r"`(\w+)`", cells[0])
        assert name, f"the first cell names one parameter in backticks: {line}"
        rows.append((name.group(1), cells[1], cells[2:]))
    return columns, rows


def table_problems(text, defaults):
    """What is wrong with the table ``text`` for detectors ``{class name: {parameter: default}}``."""
    columns, rows = read_table(text)
    problems = []
    if sorted(columns) != sorted(defaults):
        problems.append(f"columns {columns} are not the detectors {sorted(defaults)}")
        return problems
    names = [name for name, _, _ in rows]
    problems += [f"{name}: two rows" for name in sorted({n for n in names if names.count(n) > 1})]
    params = {name for params in defaults.values() for name in params}
    problems += [f"{name}: no row" for name in sorted(params - set(names))]
    problems += [f"{name}: a row, but no detector has it" for name in sorted(set(names) - params)]
    for name, meaning, cells in rows:
        if not meaning:
            problems.append(f"{name}: no meaning")
        present = []
        for column, cell in zip(columns, cells):
            if name not in defaults[column]:
                if cell != ABSENT:
                    problems.append(f"{name}: {column} has no such parameter, the cell says {cell!r}")
                continue
            match = CELL.match(cell)
            if match is None or not _same_value(match.group("value"), defaults[column][name]):
                problems.append(f"{name}: {column}'s default is {defaults[column][name]!r}, the cell says {cell!r}")
                continue
            present.append(match)
        if len({repr(ast.literal_eval(match.group("value"))) for match in present}) > 1:
            problems += [f"{name}: the default {match.group(0)} differs from another detector's and names no source"
                         for match in present if not match.group("source")]
    return problems


def documented_parameters(cls):
    """``{name: (type, default text)}`` from the numpydoc Parameters section of ``cls``'s docstring."""
    lines = inspect.getdoc(cls).splitlines()
    start = lines.index("Parameters") + 2
    documented = {}
    for i, line in enumerate(lines[start:], start):
        if i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1]):
            break  # the next section
        match = re.match(r"^(\w+(?:, \w+)*) : (.*)$", line)
        if not match:
            continue
        names = match.group(1).split(", ")
        kind, _, default = match.group(2).partition("default=")
        defaults = [part.strip() for part in default.split(", ")] if len(names) > 1 else [default.strip()]
        if len(defaults) != len(names):
            defaults = [default.strip()] * len(names)  # reported as wrong defaults below
        for name, text in zip(names, defaults):
            documented[name] = (kind.strip().rstrip(","), text)
    return documented


def docstring_problems(entries):
    """What is wrong with ``{class name: (documented parameters, {parameter: default})}``."""
    problems = []
    kinds = {}
    for name, (documented, defaults) in sorted(entries.items()):
        problems += [f"{name}.{param}: not documented" for param in sorted(set(defaults) - set(documented))]
        problems += [f"{name}.{param}: documented, not a parameter"
                     for param in sorted(set(documented) - set(defaults))]
        for param, (kind, text) in documented.items():
            if param in defaults and not _same_value(text, defaults[param]):
                problems.append(f"{name}.{param}: documented default {text!r}, constructor {defaults[param]!r}")
            # 'X or "auto"' is the type X plus a documented rule for choosing the value: the same quantity.
            kinds.setdefault(param, {})[name] = kind.removesuffix(' or "auto"')
    for param, by_detector in sorted(kinds.items()):
        if len(set(by_detector.values())) > 1:
            problems.append(f"{param}: documented as different types {by_detector}")
    return problems


def _detectors():
    return {name: getattr(skanomaly.detectors, name) for name in skanomaly.detectors.__all__}


def _defaults():
    return {name: cls().get_params(deep=False) for name, cls in _detectors().items()}


def _entries():
    return {name: (documented_parameters(cls), cls().get_params(deep=False)) for name, cls in _detectors().items()}


def test_the_table_lists_every_parameter_once_with_its_defaults():
    problems = table_problems(TABLE.read_text(), _defaults())
    assert not problems, "\n".join(problems)


def test_the_docstrings_document_every_parameter_with_one_type_per_name():
    problems = docstring_problems(_entries())
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("edit, expected", [
    # a detector gains a parameter the table does not list
    (lambda text, d, e: (text, {**d, "AMADetector": {**d["AMADetector"], "extra_epochs": 10}}, e),
     "extra_epochs: no row"),
    # a name used by one more detector, for another concept: the row does not list it for that detector
    (lambda text, d, e: (text, {**d, "DeepSVDDDetector": {**d["DeepSVDDDetector"], "delta": 0.5}}, e),
     "delta: DeepSVDDDetector's default is 0.5, the cell says '–'"),
    # a row is dropped
    (lambda text, d, e: ("\n".join(line for line in text.splitlines() if not line.startswith("| `shell_width`")), d, e),
     "shell_width: no row"),
    # a default changes without the table
    (lambda text, d, e: (text, {**d, "OMASGANDetector": {**d["OMASGANDetector"], "nu": 0.1}}, e),
     "nu: OMASGANDetector's default is 0.1"),
    # two defaults differ and one of them names no source
    (lambda text, d, e: (text.replace("`0.1` | `0.1` | `0.1` | `0.1` | `0.1` |",
                                      "`0.1` | `0.1` | `0.1` | `0.1` | `0.2` |"),
                         {**d, "DeepSVDDDetector": {**d["DeepSVDDDetector"], "contamination": 0.2}}, e),
     "contamination: the default `0.1` differs"),
    # a shared name documented as another type (another meaning) in one detector
    (lambda text, d, e: (text, d, {**e, "DeepSVDDDetector": ({**e["DeepSVDDDetector"][0], "lr": ("int", "1e-4")},
                                                            e["DeepSVDDDetector"][1])}),
     "lr: documented as different types"),
    # an "auto" rule does not make another type, but another base type still does
    (lambda text, d, e: (text, d, {**e, "DeepSVDDDetector": ({**e["DeepSVDDDetector"][0],
                                                              "lr": ('int or "auto"', '"auto"')},
                                                             e["DeepSVDDDetector"][1])}),
     "lr: documented as different types"),
    # a docstring default that is not the constructor's
    (lambda text, d, e: (text, d, {**e, "AMADetector": ({**e["AMADetector"][0], "shell_width": ("float", "0.25")},
                                                       e["AMADetector"][1])}),
     "AMADetector.shell_width: documented default '0.25'"),
])
def test_the_checks_report_a_clash(edit, expected):
    text, defaults, entries = edit(TABLE.read_text(), _defaults(), _entries())
    problems = table_problems(text, defaults) + docstring_problems(entries)
    assert any(expected in problem for problem in problems), problems
