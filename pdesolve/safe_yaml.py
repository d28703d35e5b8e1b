"""Reading YAML text safely (problem files, config files, overrides, run folders): PyYAML's safe
loader with YAML 1.2 numbers, no duplicate keys and a bound on alias expansion."""

import re
import reprlib
from typing import Any

import yaml

# A YAML file is untrusted input: aliases (``*a``) may repeat a node many times over (a "billion
# laughs" file of 1 kB expands to 10^9 nodes), so a document is refused while it is composed, as soon
# as its alias-expanded size exceeds these bounds (nothing is expanded: the count is linear in the
# file). The node bound leaves room for a 100,000-entry vector. Nesting is bounded too, so that no
# reader of the values (here or downstream) recurses deeper than Python allows.
MAX_YAML_NODES = 250_000
MAX_YAML_CHARS = 10_000_000  # characters of scalar text, aliases expanded
MAX_YAML_DEPTH = 64  # nested sequences and mappings


def _too_large(mark) -> yaml.composer.ComposerError:
    return yaml.composer.ComposerError(
        None,
        None,
        f"the document expands through aliases (*name) to more than {MAX_YAML_NODES} "
        f"values or {MAX_YAML_CHARS} characters; write the values out instead",
        mark,
    )


class _Checked:
    """The checks of both loaders: reading ``1e-3`` as a number (YAML 1.2) rather than the string
    '1e-3', refusing duplicate keys, nesting deeper than ``MAX_YAML_DEPTH`` and documents that aliases
    expand beyond ``MAX_YAML_NODES`` (counted while composing, before anything is built)."""

    def compose_document(self):
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, chars), aliases expanded
        self._open: list[list[int]] = []  # [nodes, chars] so far of each node being composed
        return super().compose_document()

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise yaml.composer.ComposerError(
                    None,
                    None,
                    "an alias (*name) refers to a node that contains it; a recursive value cannot be read",
                    mark,
                )
            self._count(self._sizes[id(node)], mark)
            return node
        mark = self.peek_event().start_mark
        if len(self._open) >= MAX_YAML_DEPTH:
            raise yaml.composer.ComposerError(
                None, None, f"values are nested deeper than {MAX_YAML_DEPTH} levels; flatten them", mark
            )
        self._open.append([1, 0])
        try:
            node = super().compose_node(parent, index)
        finally:
            nodes, chars = self._open.pop()
        size = (1, len(node.value)) if isinstance(node, yaml.ScalarNode) else (nodes, chars)
        self._sizes[id(node)] = size
        self._count(size, mark)
        return node

    def _count(self, size: tuple[int, int], mark) -> None:
        """Adds a finished child's expanded ``size`` to the node that holds it; refuses at the bound."""
        if size[0] > MAX_YAML_NODES or size[1] > MAX_YAML_CHARS:
            raise _too_large(mark)
        if self._open:
            total = self._open[-1]
            total[0] += size[0]
            total[1] += size[1]
            if total[0] > MAX_YAML_NODES or total[1] > MAX_YAML_CHARS:
                raise _too_large(mark)

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
                        None,
                        None,
                        f"found the key {reprlib.repr(key)} twice in one mapping; keep one (YAML keys are unique)",
                        key_node.start_mark,
                    )
        return super().construct_mapping(node, deep=deep)


class SafeLoader(_Checked, yaml.SafeLoader):
    """PyYAML's safe loader (pure Python) with the checks of ``_Checked``."""

    def fetch_flow_collection_start(self, token_class):
        if self.flow_level >= MAX_YAML_DEPTH:  # refused by the scanner: deep '[[[...' costs no more time
            raise yaml.scanner.ScannerError(
                None, None, f"values are nested deeper than {MAX_YAML_DEPTH} levels; flatten them", self.get_mark()
            )
        super().fetch_flow_collection_start(token_class)


LOADERS = [SafeLoader]
if getattr(yaml, "__with_libyaml__", False):

    class FastSafeLoader(
        _Checked, yaml.composer.Composer, yaml.cyaml.CParser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver
    ):
        """libyaml's scanner and parser (tens of times faster on large files) under the Python
        composer, so that nesting and alias expansion are counted as in :class:`SafeLoader`."""

        def __init__(self, stream):
            yaml.cyaml.CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    LOADERS.insert(0, FastSafeLoader)

for _loader in LOADERS:
    _loader.add_implicit_resolver(
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
        return yaml.load(text, Loader=LOADERS[0])  # safe loaders only
    except (ValueError, TypeError, AttributeError, OverflowError) as err:
        raise yaml.constructor.ConstructorError(None, None, f"cannot read a tagged value ({err})") from None
    except yaml.YAMLError as err:
        if "flow level" in str(err):  # libyaml's own nesting bound, met before the composer's
            raise yaml.composer.ComposerError(
                None, None, f"values are nested deeper than {MAX_YAML_DEPTH} levels; flatten them"
            ) from None
        raise
    except RecursionError:  # a guard behind MAX_YAML_DEPTH (the bound is met first)
        raise yaml.composer.ComposerError(None, None, "values are nested too deeply; flatten them") from None
