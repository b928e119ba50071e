"""YAML parsing with bounded size: aliases cannot expand a small document into a huge one.

PyYAML shares the object behind an alias instead of copying it, so ``safe_load`` of a "billion laughs" document
(each level ten aliases of the one before) is quick; the blow-up comes later, when the result is walked, copied
or written out as JSON (a 447-byte model card became a 225 MB ``model_info`` answer). :func:`load_bounded`
composes the document first, measures what it would expand to (every alias counted as a full copy), and refuses
it before anything is built if that passes the limit, or if it nests too deep or refers to itself.
Downloaded and uploaded YAML (model cards, ``config.yml``) goes through it.
"""

from __future__ import annotations

from typing import Any

import yaml

#: Characters of YAML text read at most.
MAX_CHARS = 1_000_000
#: Expanded size at most: each scalar counts its length + 1, each list or mapping 1, aliases as full copies.
MAX_EXPANDED = 2_000_000
#: Nesting depth at most.
MAX_DEPTH = 100


class YamlTooLarge(yaml.YAMLError):
    """The document would expand past the limits (alias bomb, self-reference, nesting or plain size)."""


def _expanded_size(root: yaml.Node, max_expanded: int, max_depth: int) -> int:
    sizes: dict[int, int] = {}  # id(node) -> expanded size; a node reached through an alias is measured once
    open_nodes: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if depth > max_depth:
            raise YamlTooLarge(f"YAML nested deeper than {max_depth} levels")
        if key in open_nodes:
            raise YamlTooLarge("YAML refers to itself through an alias")
        if isinstance(node, yaml.ScalarNode):
            total = len(node.value) + 1
        else:
            open_nodes.add(key)
            children = node.value if isinstance(node, yaml.SequenceNode) else [n for kv in node.value for n in kv]
            total = 1
            for child in children:
                total += size(child, depth + 1)
                if total > max_expanded:
                    raise YamlTooLarge(f"YAML expands past {max_expanded:,} characters (aliases count as copies)")
            open_nodes.discard(key)
        sizes[key] = total
        return total

    return size(root, 1)


def load_bounded(
    text: str | bytes,
    loader: type[yaml.SafeLoader] = yaml.SafeLoader,
    max_chars: int = MAX_CHARS,
    max_expanded: int = MAX_EXPANDED,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Parse one YAML document with ``loader`` (a ``SafeLoader``) within the limits; raises ``yaml.YAMLError``.

    :param text: the document.
    :param loader: the loader class (``yaml.SafeLoader`` or a subclass of it).
    :param max_chars: longest text accepted.
    :param max_expanded: largest expanded size accepted (see :data:`MAX_EXPANDED`).
    :param max_depth: deepest nesting accepted.
    """
    if len(text) > max_chars:
        raise YamlTooLarge(f"YAML text longer than {max_chars:,} characters")
    parser = loader(text)
    try:
        node = parser.get_single_node()  # composes only: nothing is built yet
        if node is None:
            return None
        _expanded_size(node, max_expanded, max_depth)
        return parser.construct_document(node)
    except RecursionError:
        raise YamlTooLarge("YAML nested too deep") from None
    finally:
        parser.dispose()
