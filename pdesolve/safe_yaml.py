"""Reading YAML text safely (problem files, config files, overrides, run folders): PyYAML's safe
loader with YAML 1.2 numbers, no duplicate keys and a bound on alias expansion."""

import re
import reprlib
from typing import Any

import yaml

# A YAML file is untrusted input: aliases (``*a``) may repeat a node many times over (a "billion
# laughs" file of 1 kB expands to 10^9 nodes), so a document is refused, before it is built, when
# its alias-expanded size exceeds these bounds. The node bound leaves room for a 100,000-entry vector.
MAX_YAML_NODES = 250_000
MAX_YAML_CHARS = 10_000_000  # characters of scalar text, aliases expanded


def _node_children(node: yaml.Node) -> list:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def check_expanded_size(root: yaml.Node) -> None:
    """Raises ``yaml.YAMLError`` when ``root`` with its aliases expanded holds more than
    ``MAX_YAML_NODES`` nodes or ``MAX_YAML_CHARS`` characters, or refers to itself. Each node is
    visited once (sizes are shared between aliases), so the check is linear in the file."""
    sizes: dict[int, tuple[int, int]] = {}
    open_nodes: set[int] = set()
    stack = [(root, False)]
    while stack:
        node, finish = stack.pop()
        if finish:
            parts = [sizes[id(child)] for child in _node_children(node)]
            nodes, chars = 1 + sum(p[0] for p in parts), sum(p[1] for p in parts)
            if nodes > MAX_YAML_NODES or chars > MAX_YAML_CHARS:
                raise yaml.composer.ComposerError(
                    None, None, f"the document expands through aliases (*name) to more than {MAX_YAML_NODES} "
                    f"values or {MAX_YAML_CHARS} characters; write the values out instead", node.start_mark)
            sizes[id(node)] = (nodes, chars)
            open_nodes.discard(id(node))
        elif id(node) in open_nodes:
            raise yaml.composer.ComposerError(None, None, "an alias (*name) refers to a node that contains it; "
                                              "a recursive value cannot be read", node.start_mark)
        elif id(node) not in sizes:
            if isinstance(node, yaml.ScalarNode):
                sizes[id(node)] = (1, len(node.value))
                continue
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in _node_children(node))


class SafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, reading ``1e-3`` as a number (YAML 1.2) rather than the string '1e-3',
    refusing duplicate keys and documents that aliases expand beyond ``MAX_YAML_NODES``."""

    def construct_document(self, node):
        check_expanded_size(node)
        return super().construct_document(node)

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue  # '<<: *base' merges may be overridden by the keys after them
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                    seen.add(key)
                except TypeError:  # an unhashable key: the base constructor refuses it
                    continue
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"found the key {reprlib.repr(key)} twice in one mapping; keep one "
                        "(YAML keys are unique)", key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


SafeLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+$"),
    list("-+0123456789."),
)


def safe_load(text: str) -> Any:
    """``yaml.safe_load`` with :class:`SafeLoader` (no tags that construct Python objects).

    Every failure is a ``yaml.YAMLError``: PyYAML's own constructors raise other exceptions on
    some malformed tagged values (``!!timestamp 2001-12-14x``, ``!!int abc``).
    """
    try:
        return yaml.load(text, Loader=SafeLoader)  # noqa: S506 (a SafeLoader subclass)
    except (ValueError, TypeError, AttributeError, OverflowError) as err:
        raise yaml.constructor.ConstructorError(None, None, f"cannot read a tagged value ({err})") from None
