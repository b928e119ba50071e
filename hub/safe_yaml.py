"""Safe reading of the RL Baselines3 Zoo's YAML files (``config.yml``, ``args.yml``, ``env_kwargs.yml``).

rl-zoo3 writes them with ``yaml.dump`` of an ``OrderedDict``, which gives the Python-tagged form
``!!python/object/apply:collections.OrderedDict`` that ``yaml.safe_load`` refuses. :class:`ZooYamlLoader`
is ``yaml.SafeLoader`` plus that one tag, read as a plain list of ``[key, value]`` pairs; every other
Python tag stays refused. Aliases (``*name``) are refused too, so a small file cannot expand into a huge
structure, and a file over :data:`MAX_YAML_BYTES` is not parsed at all.
(rl-zoo3's ``policy_kwargs`` strings are read without eval by :func:`agents.common.untrusted.parse_python_literal`.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from agents.errors import UnsafeCheckpointError, ZooError

_ORDERED_DICT_TAG = "tag:yaml.org,2002:python/object/apply:collections.OrderedDict"


#: The largest YAML file read (a config, args or env kwargs file is a few kilobytes).
MAX_YAML_BYTES = 1 << 20


class ZooYamlLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that also reads rl-zoo3's ``OrderedDict`` tag (as a plain dict) and refuses aliases."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.constructor.ConstructorError(None, None, "aliases (*name) are not read", event.start_mark)
        return super().compose_node(parent, index)


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
    if len(text) > MAX_YAML_BYTES:
        raise UnsafeCheckpointError(f"{name} is {len(text)} bytes, over the {MAX_YAML_BYTES} read for a YAML file")
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
    if path.stat().st_size > MAX_YAML_BYTES:
        raise UnsafeCheckpointError(f"{path.name} is {path.stat().st_size} bytes, over the {MAX_YAML_BYTES} read for a YAML file")
    return load_yaml_text(path.read_text(), path.name)
