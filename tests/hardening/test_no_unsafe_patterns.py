"""No code path in battlab can unpickle, eval or parse XML unsafely (checked on the AST).

Uploaded bytes are untrusted: unpickling them runs code, and XML entity expansion can
exhaust memory (billion laughs). The checker itself is tested on known-bad snippets.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "battlab"

BANNED_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "shelve", "marshal", "cloudpickle"}
BANNED_CALLS = {"eval", "exec", "read_pickle", "__import__"}
# Stdlib/lxml XML parsers expand entities; only defusedxml (or lxml with
# resolve_entities=False) may parse XML.
UNSAFE_XML = ("xml.etree", "xml.dom", "xml.sax", "xml.parsers", "lxml")


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def problems(source: str, filename: str = "<snippet>") -> list[str]:
    tree = ast.parse(source, filename=filename)
    found = []
    safe_lxml = "resolve_entities=False" in source.replace(" ", "")
    for node in ast.walk(tree):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for mod in names:
                if mod.split(".")[0] in BANNED_MODULES:
                    found.append(f"{where}: imports {mod}")
                if mod.startswith(UNSAFE_XML) and not (mod.startswith("lxml") and safe_lxml):
                    found.append(f"{where}: parses XML with {mod}; use defusedxml")
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if last in BANNED_CALLS and name not in ("self._eval",):
                found.append(f"{where}: calls {name}()")
            if last in ("load", "loads") and name.split(".")[0] in ("torch", "joblib", "pickle", "dill"):
                found.append(f"{where}: calls {name}()")
            for kw in node.keywords:
                if kw.arg == "allow_pickle" and not (isinstance(kw.value, ast.Constant) and kw.value.value is False):
                    found.append(f"{where}: {name}(allow_pickle=...) must be the constant False")
        elif isinstance(node, ast.Attribute) and node.attr in ("read_pickle", "Unpickler"):
            found.append(f"{where}: uses .{node.attr}")
    return found


def test_battlab_has_no_unsafe_patterns():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 20
    found = [p for f in files for p in problems(f.read_text(encoding="utf-8"), str(f.relative_to(PACKAGE.parent)))]
    assert not found, "\n".join(found)


@pytest.mark.parametrize("snippet", [
    "import pickle\npickle.loads(b)",
    "from joblib import load",
    "import pandas as pd\npd.read_pickle(p)",
    "import numpy as np\nnp.load(f, allow_pickle=True)",
    "np.load(f, allow_pickle=flag)",
    "eval(text)",
    "exec(code)",
    "import xml.etree.ElementTree as ET",
    "from xml.dom import minidom",
    "from lxml import etree\netree.fromstring(b)",
    "import torch\ntorch.load(f)",
])
def test_checker_catches_unsafe_snippets(snippet):
    assert problems(snippet)


@pytest.mark.parametrize("snippet", [
    "import numpy as np\nnp.load(f, allow_pickle=False)",
    "import defusedxml.ElementTree as ET\nET.fromstring(b)",
    "from lxml import etree\netree.XMLParser(resolve_entities=False)",
    "self._eval(node)",
])
def test_checker_allows_safe_snippets(snippet):
    assert not problems(snippet)


def test_openpyxl_parses_workbooks_through_defusedxml():
    # openpyxl guards against entity expansion only when defusedxml is importable.
    pytest.importorskip("openpyxl")
    from openpyxl import xml as openpyxl_xml

    assert openpyxl_xml.DEFUSEDXML is True
