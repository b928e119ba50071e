"""Safe reading of the RL Baselines3 Zoo's YAML files (``config.yml``, ``args.yml``, ``env_kwargs.yml``).

rl-zoo3 writes them with ``yaml.dump`` of an ``OrderedDict``, which gives the Python-tagged form
``!!python/object/apply:collections.OrderedDict`` that ``yaml.safe_load`` refuses. :class:`ZooYamlLoader`
is ``yaml.SafeLoader`` plus that one tag, read as a plain list of ``[key, value]`` pairs; every other
Python tag stays refused.

rl-zoo3 also keeps ``policy_kwargs`` as a Python expression string (``"dict(net_arch=[64, 64],
activation_fn=nn.ReLU)"``) which it ``eval``s. :func:`parse_python_literal` reads such strings with
:mod:`ast` instead: literals, ``dict(...)`` and names from the class allow-list, nothing else.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import yaml

from hub.safe_load import UnsafeCheckpointError, allowed_class
from zoo.errors import ZooError

_ORDERED_DICT_TAG = "tag:yaml.org,2002:python/object/apply:collections.OrderedDict"


class ZooYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads rl-zoo3's ``OrderedDict`` tag (as a plain dict)."""


def _ordered_dict(loader: yaml.SafeLoader, node: yaml.Node) -> dict[Any, Any]:
    if not isinstance(node, yaml.SequenceNode) or len(node.value) != 1:
        raise yaml.constructor.ConstructorError(None, None, "OrderedDict expects one list of pairs", node.start_mark)
    pairs = loader.construct_sequence(node.value[0], deep=True)
    if not all(isinstance(pair, list) and len(pair) == 2 for pair in pairs):
        raise yaml.constructor.ConstructorError(None, None, "OrderedDict expects [key, value] pairs", node.start_mark)
    return {key: value for key, value in pairs}


ZooYamlLoader.add_constructor(_ORDERED_DICT_TAG, _ordered_dict)


def load_yaml_text(text: str | bytes, name: str = "YAML") -> Any:
    """Parse YAML safely (plus rl-zoo3's OrderedDict); a refused or broken file raises one clear error."""
    try:
        return yaml.load(text, Loader=ZooYamlLoader)  # noqa: S506 -- a SafeLoader subclass
    except yaml.constructor.ConstructorError as error:
        problem = error.problem or str(error)
        raise UnsafeCheckpointError(f"{name} was refused: {problem.strip()} (only plain YAML is read)") from error
    except yaml.YAMLError as error:
        raise ZooError(f"{name} is not valid YAML ({str(error).splitlines()[0]})") from error


def load_yaml(path: str | Path) -> Any:
    """:func:`load_yaml_text` of a file."""
    path = Path(path)
    return load_yaml_text(path.read_text(), path.name)


def parse_python_literal(text: str, what: str = "value") -> Any:
    """Read a Python expression such as ``dict(net_arch=[64, 64], activation_fn=nn.ReLU)`` without eval.

    Allowed: numbers, strings, booleans, None, lists, tuples, dicts, ``dict(key=...)`` calls and the
    dotted class names of :data:`hub.safe_load.ALLOWED_CLASSES` (``nn.ReLU``, ``th.optim.Adam``...).
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as error:
        raise ZooError(f"{what} is not a Python literal: {text!r}") from error
    return _literal(tree.body, what)


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _literal(node: ast.AST, what: str) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, what)
        if isinstance(value, (int, float)):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_literal(item, what) for item in node.elts]
        return items if isinstance(node, ast.List) else tuple(items)
    if isinstance(node, ast.Dict) and all(key is not None for key in node.keys):
        return {_literal(k, what): _literal(v, what) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {kw.arg: _literal(kw.value, what) for kw in node.keywords if kw.arg is not None}
    name = _dotted(node)
    if name is not None:
        if name in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[name]
        return allowed_class(name, what)
    raise UnsafeCheckpointError(f"{what} holds an expression that is not a plain literal: {ast.unparse(node)!r}")
