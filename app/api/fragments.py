"""A document's fragments in the order that lets each be measured once: every fragment after
the fragments it spreads. A measure of a fragment (its depth, aliases or price) is then
computed from the measures of the fragments it spreads, never by walking them again, so a
chain of fragments each spreading the next twice costs its length, not two to its length."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionSetNode,
)


def spreads(selection_set: SelectionSetNode | None) -> Iterator[str]:
    """The names of the fragments spread anywhere in `selection_set`, nested ones included."""
    stack = [selection_set] if selection_set is not None else []
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, FieldNode | InlineFragmentNode) and selection.selection_set:
                stack.append(selection.selection_set)


def in_order(document: DocumentNode) -> list[FragmentDefinitionNode]:
    """Every fragment after those it spreads. Fragments in a cycle, or spreading one that does
    not exist, are left out: graphql-core's own rules refuse such documents."""
    defined = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    needs = {name: set(spreads(d.selection_set)) for name, d in defined.items()}
    ordered: list[FragmentDefinitionNode] = []
    done: set[str] = set()
    broken: set[str] = set()
    for root in defined:
        # Depth first without recursion: a chain of a thousand fragments is a thousand frames.
        path: list[tuple[str, Iterator[str]]] = [(root, iter(sorted(needs[root])))]
        on_path = {root}
        while path:
            name, pending = path[-1]
            if name in done or name in broken:
                path.pop()
                on_path.discard(name)
                continue
            child = next(pending, None)
            if child is None:
                path.pop()
                on_path.discard(name)
                if needs[name] & broken:
                    broken.add(name)
                else:
                    done.add(name)
                    ordered.append(defined[name])
            elif child not in defined or child in on_path:
                broken.add(name)
            elif child not in done and child not in broken:
                path.append((child, iter(sorted(needs[child]))))
                on_path.add(child)
    return ordered
