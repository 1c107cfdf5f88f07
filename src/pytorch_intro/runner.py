"""The project's runner: each variant's nodes together, training on every core.

Kedro runs a pipeline level by level, so the variants' nodes interleave and
each variant's MLflow run spans the whole pipeline. :class:`VariantRunner`
finishes the variant (node namespace) it has started before starting another,
wherever the dependencies allow, and trains the variants at the same time in
worker processes (:mod:`pytorch_intro.workers`). ``kedro run`` uses it by
default (the project's ``cli.py``).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from typing import Any

from kedro.pipeline import Pipeline
from kedro.pipeline.node import Node
from kedro.runner import SequentialRunner, Task

from pytorch_intro import workers
from pytorch_intro.internals import release_datasets
from pytorch_intro.workers import WORKER_TAG


def variant_order(
    nodes: list[Node], dependencies: Mapping[Node, Iterable[Node]]
) -> list[Node]:
    """``nodes`` (in Kedro's order) in a topological order that keeps each
    namespace together: what a namespace needs from the others (its data steps)
    first, then its nodes in Kedro's order, each after what it still needs."""
    position = {node: index for index, node in enumerate(nodes)}
    first = {}  # each namespace's first position
    for node in nodes:
        first.setdefault(node.namespace, position[node])

    def grouped(node: Node) -> tuple[int, int]:
        return first[node.namespace], position[node]

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
        # its parents a namespace at a time (a problem's results need each
        # variant's record and figures: one variant after the other)
        for parent in sorted(dependencies.get(node, ()), key=grouped):
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
    """Kedro's SequentialRunner, with each variant's nodes together and its
    training in a worker process.

    Every node runs in the main thread (hooks, MLflow, the files it saves)
    except those tagged :data:`WORKER_TAG` (the template's ``train_model``):
    their function runs in a pool of worker processes, one per core, as soon as
    their inputs exist, while the main thread goes on with the nodes that are
    ready; Kedro's hooks for such a node (and its outputs' saving) run when its
    result is back. With one core, or fewer than two such nodes, it is the
    SequentialRunner in :func:`variant_order`.

    Args:
        is_async: load and save each node's datasets in threads (as Kedro's).
        max_workers: at most this many worker processes (default: one per
            core; ``kedro run --runner-params max_workers=1``: none).
    """

    def __init__(self, is_async: bool = False, max_workers: int | None = None) -> None:
        super().__init__(is_async=is_async)
        self._max_workers = max_workers

    def _run(
        self,
        pipeline: Pipeline,
        catalog: Any,
        hook_manager: Any = None,
        run_id: str | None = None,
    ) -> None:
        ordered = variant_order(pipeline.nodes, pipeline.node_dependencies)
        count = min(workers.count(ordered), self._max_workers or len(ordered))
        if count < 2:
            super()._run(_VariantOrdered(pipeline.nodes), catalog, hook_manager, run_id)
            return
        dependencies = pipeline.node_dependencies
        load_counts = Counter(name for node in ordered for name in node.inputs)
        done: set[Node] = set()
        with workers.Pool(count) as pool:
            running: dict[Node, Future] = {}
            while ordered:
                ready = [node for node in ordered if dependencies[node] <= done]
                for node in ready:
                    if WORKER_TAG in node.tags and node not in running:
                        inputs = {name: catalog.load(name) for name in node.inputs}
                        running[node] = pool.submit(node, inputs)
                # a result that is back first (its variant goes on), then the
                # main thread's next node, else wait for a result
                node = next(
                    (n for n in ready if n in running and running[n].done()), None
                )
                node = node or next((n for n in ready if n not in running), None)
                if node is None:
                    wait([running[n] for n in ready], return_when=FIRST_COMPLETED)
                    node = next(n for n in ready if running[n].done())
                if node in running:
                    task = workers.result_node(node, running.pop(node))
                else:
                    task = node
                Task(task, catalog, self._is_async, hook_manager, run_id).execute()
                ordered.remove(node)
                done.add(node)
                self._logger.info("Completed node: %s", node.name)
                self._logger.info(
                    "Completed %d out of %d tasks",
                    len(done),
                    len(done) + len(ordered),
                )
                release_datasets(node, catalog, load_counts, pipeline)
