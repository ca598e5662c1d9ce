"""YAML loading with a bound on what aliases expand to.

PyYAML's safe_load expands aliases as it builds the document: nine levels of nine aliases each
(a "billion laughs" of 9^8 entries) fills memory for minutes before any key is checked. The node
graph it composes first shares each aliased node, so the expanded size is counted cheaply,
before anything is built."""

from __future__ import annotations

from typing import Any

import yaml

MAX_VALUES = 200_000  # values aliases may add to what is written (a bomb adds millions)
# libyaml's parser where PyYAML was built with it (its wheels are): 2.3x as fast over a config of
# 70,000 sources (5.3 s against 12.5 s), and it refuses nesting past 1,000 levels itself.
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlBombError(yaml.YAMLError):
    def __init__(self, problem: str, mark: yaml.Mark | None = None) -> None:
        super().__init__(problem)
        self.problem_mark = mark


def load_yaml(text: str) -> Any:
    """yaml.safe_load, refusing a document whose aliases add more than MAX_VALUES values."""
    loader = Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {})
        _refuse_repeated_keys(node)
        return loader.construct_document(node)
    except RecursionError:
        raise YamlBombError("it nests too deeply") from None
    except yaml.MarkedYAMLError as error:  # libyaml's own limit, 1,000 levels
        if "nesting depth" not in (error.problem or ""):
            raise
        raise YamlBombError("it nests too deeply", error.problem_mark) from None
    finally:
        loader.dispose()


class RepeatedKeyError(yaml.YAMLError):
    def __init__(self, problem: str, mark: yaml.Mark) -> None:
        super().__init__(problem)
        self.problem_mark = mark


def _refuse_repeated_keys(root: yaml.Node) -> None:
    """A key given twice in one mapping is an error (PyYAML keeps the last: a second `sources:`
    list dropped the first without a word), with the line of each."""
    seen: set[int] = set()
    pending = [root]
    while pending:
        node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                    earlier = first.setdefault((key.tag, key.value), key)
                    if earlier is not key:
                        raise RepeatedKeyError(
                            f"the key {key.value!r} is given twice in one mapping, first at line "
                            f"{earlier.start_mark.line + 1}; YAML would keep only the last",
                            key.start_mark,
                        )
                pending.extend((key, value))


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values `node` stands for once its aliases are expanded (each shared node is
    counted once and reused); raises past the budget."""
    size = sizes.get(id(node))
    if size is not None:
        return size
    sizes[id(node)] = 1  # a node that holds itself (a recursive alias) is built once: count it once
    children: list[yaml.Node] = []
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    size = sizes[id(node)] = 1 + sum(_expanded_size(child, sizes) for child in children)
    # What aliases add is the expanded size beyond the nodes written (each counted once in
    # `sizes`): a long config written out in full (40,000 sources) adds nothing.
    if size - len(sizes) > MAX_VALUES:
        raise YamlBombError(f"its aliases expand to more than {MAX_VALUES:,} values", node.start_mark)
    return size
