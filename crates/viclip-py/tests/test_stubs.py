"""The type stubs (`_viclip.pyi`, `__init__.pyi`) against the module itself, so they cannot drift:
the same classes, methods, properties and functions, with the same parameters and defaults."""

import ast
import inspect
from pathlib import Path

import viclip
import viclip._viclip as ext

PKG = Path(viclip.__file__).parent


def stub_tree(name):
    return ast.parse((PKG / name).read_text())


def params(fn: ast.FunctionDef):
    a = fn.args
    out = []
    pos = a.posonlyargs + a.args
    defaults = [None] * (len(pos) - len(a.defaults)) + list(a.defaults)
    for arg, d in zip(pos, defaults):
        out.append((arg.arg, None if d is None else ast.literal_eval(d)))
    for arg, d in zip(a.kwonlyargs, a.kw_defaults):
        out.append((arg.arg, None if d is None else ast.literal_eval(d)))
    return [p for p in out if p[0] not in ("self",)]


def runtime_params(obj):
    sig = inspect.signature(obj)
    return [
        (p.name, None if p.default is inspect.Parameter.empty else p.default)
        for p in sig.parameters.values()
        if p.name not in ("self", "$self", "$cls")
    ]


def public(names):
    return {n for n in names if not n.startswith("__") or n in ("__iter__", "__next__", "__enter__", "__exit__")}


def test_classes_and_functions_match_the_module():
    tree = stub_tree("_viclip.pyi")
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    runtime_classes = {n for n, v in vars(ext).items() if isinstance(v, type)}
    runtime_functions = {n for n, v in vars(ext).items() if callable(v) and not isinstance(v, type)}
    assert set(classes) == runtime_classes
    assert set(functions) == runtime_functions
    for name, fn in functions.items():
        assert params(fn) == runtime_params(getattr(ext, name)), name
    for name, cls in classes.items():
        members = {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}
        rt = getattr(ext, name)
        rt_members = public(n for n in dir(rt) if n in vars(rt))
        assert set(members) == rt_members, name
        for m, fn in members.items():
            attr = vars(rt)[m]
            is_prop = any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)
            assert is_prop == inspect.isdatadescriptor(attr), f"{name}.{m}"
            if not is_prop and m not in ("__iter__", "__next__"):
                assert params(fn) == runtime_params(getattr(rt, m)), f"{name}.{m}"


def test_package_stub_names_match_all():
    tree = stub_tree("__init__.pyi")
    names = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    assert names == set(viclip.__all__)


def test_docstrings_show_in_help():
    for obj in (viclip.ViClip, viclip.ViClip.embed_texts, viclip.ViClip.embed_clips, viclip.AestheticScorer,
                viclip.ViClip.score_stream, viclip.compat.retrieve_text, viclip.Error):
        assert obj.__doc__ and len(obj.__doc__) > 20, obj
