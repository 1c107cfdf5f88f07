"""Kedro's SequentialRunner, running one model variant's nodes after another.

Kedro runs a pipeline level by level, so the variants' nodes interleave and
each variant's MLflow run spans the whole pipeline. This runner finishes the
variant (node namespace) it has started before starting another, wherever the
dependencies allow. ``kedro run`` uses it by default (the project's ``cli.py``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import SequentialRunner


def variant_order(
    nodes: list[Node], dependencies: Mapping[Node, Iterable[Node]]
) -> list[Node]:
    """``nodes`` (in Kedro's order) in a topological order that keeps each
    namespace together: what a namespace needs from the others (its data steps)
    first, then its nodes in Kedro's order, each after what it still needs."""
    position = {node: index for index, node in enumerate(nodes)}
    scheduled: set[Node] = set()  # placed, or placing its parents first
    placed: dict[Node, None] = {}  # the order
    groups: dict[str | None, list[Node]] = {}
    for node in nodes:
        groups.setdefault(node.namespace, []).append(node)
    needed = {parent for node in nodes for parent in dependencies.get(node, ())}
    # nodes nothing depends on (a saved model, a figure): run with their namespace
    sinks = {
        namespace: [node for node in members if node not in needed]
        for namespace, members in groups.items()
    }

    @functools.cache
    def lineage(node: Node) -> frozenset[Node]:  # the node and all it depends on
        return frozenset({node}).union(*map(lineage, dependencies.get(node, ())))

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
        if all(n.namespace != namespace for n in set().union(*map(lineage, needs))):
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
        placed[node] = None
        for sink in sinks[node.namespace]:
            if sink not in scheduled and placed.keys() >= set(
                dependencies.get(sink, ())
            ):
                schedule(sink)

    for members in groups.values():
        for node in members:
            schedule(node)
    return list(placed)


class _VariantOrdered(Pipeline):
    """A pipeline whose ``nodes`` come in :func:`variant_order`."""

    @property
    def nodes(self) -> list[Node]:
        return variant_order(super().nodes, self.node_dependencies)


class VariantRunner(SequentialRunner):
    """``SequentialRunner`` with each variant's nodes run together."""

    def _run(self, pipeline: Pipeline, *args, **kwargs) -> None:
        super()._run(_VariantOrdered(pipeline.nodes), *args, **kwargs)
