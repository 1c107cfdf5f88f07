"""Kedro's SequentialRunner, running one model variant's nodes after another.

Kedro orders a pipeline's nodes level by level (every node whose inputs are
ready, then the next level), so the six variants' nodes interleave: each
variant's first node runs early, its last one after every other variant has
trained, and its MLflow run spans the whole pipeline. This runner takes the
same nodes in an order that finishes the variant (the node namespace) it has
started before starting another, wherever the dependencies allow; everything
else about running is the SequentialRunner's. ``kedro run`` uses it by default
(the project's ``cli.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import SequentialRunner


def variant_order(
    nodes: list[Node], dependencies: Mapping[Node, Iterable[Node]]
) -> list[Node]:
    """``nodes`` (in Kedro's order) reordered to keep each namespace together.

    The namespaces are taken in the order Kedro first runs one of their
    nodes; within one, its nodes in Kedro's order, each preceded by whatever
    it still needs; a namespace that needs nodes of others which do not need
    it back (a variant and its data steps) has those run before its first
    node; nodes nothing depends on run as soon as they can, with their
    namespace. The result is a topological order.
    """
    position = {node: index for index, node in enumerate(nodes)}
    order: list[Node] = []
    scheduled: set[Node] = set()  # placed, or placing its parents first
    placed: set[Node] = set()
    groups: dict[str | None, list[Node]] = {}
    for node in nodes:
        groups.setdefault(node.namespace, []).append(node)
    needed = {parent for node in nodes for parent in dependencies.get(node, ())}
    # nodes nothing depends on (a saved model, a figure): run with their namespace
    sinks = {
        namespace: [node for node in members if node not in needed]
        for namespace, members in groups.items()
    }

    ancestors: dict[Node, set[Node]] = {}

    def ancestry(node: Node) -> set[Node]:
        if node not in ancestors:
            ancestors[node] = set()
            for parent in dependencies.get(node, ()):
                ancestors[node] |= {parent} | ancestry(parent)
        return ancestors[node]

    # what a namespace needs from the others, when none of that needs it back
    # (a variant's data steps; not a problem's results, which need its variants)
    upstream: dict[str | None, list[Node]] = {}
    for namespace, members in groups.items():
        needs = {
            parent
            for member in members
            for parent in dependencies.get(member, ())
            if parent.namespace != namespace
        }
        before = needs | {a for need in needs for a in ancestry(need)}
        if all(node.namespace != namespace for node in before):
            upstream[namespace] = sorted(needs, key=position.__getitem__)
    started: set[str | None] = set()

    def schedule(node: Node) -> None:
        if node in scheduled:
            return
        scheduled.add(node)
        if node.namespace not in started:  # all it needs first, then itself
            started.add(node.namespace)
            for need in upstream.get(node.namespace, ()):
                schedule(need)
        for parent in sorted(dependencies.get(node, ()), key=position.__getitem__):
            schedule(parent)
        order.append(node)
        placed.add(node)
        for sink in sinks[node.namespace]:
            if sink not in scheduled and set(dependencies.get(sink, ())) <= placed:
                schedule(sink)

    for members in groups.values():
        for node in members:
            schedule(node)
    return order


class _VariantOrdered(Pipeline):
    """A pipeline whose ``nodes`` come in :func:`variant_order`."""

    @property
    def nodes(self) -> list[Node]:
        return variant_order(super().nodes, self.node_dependencies)


class VariantRunner(SequentialRunner):
    """``SequentialRunner`` with each variant's nodes run together."""

    def _run(self, pipeline: Pipeline, *args, **kwargs) -> None:
        super()._run(_VariantOrdered(pipeline.nodes), *args, **kwargs)
