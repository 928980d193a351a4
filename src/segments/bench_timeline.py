"""Where a ``dbt build``'s wall time goes, from the start and end of each node in its
run results: dbt's own time before the first node and after the last (start-up, parse,
writing artefacts), the summed node time and the threads it ran on (so the least wall time
that work could take), and the time only one node was running, with the nodes that ran
alone longest (what a second thread could not share).

Used by ``segments bench`` to say, for a missed wall-time target, where the time goes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


class TimedNode(Protocol):
    """What this module needs of a node (segments.bench.NodeTiming has it)."""

    @property
    def unique_id(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def seconds(self) -> float: ...

    @property
    def thread(self) -> str: ...

    @property
    def started_at(self) -> float | None: ...

    @property
    def completed_at(self) -> float | None: ...


def node_span(result: dict[str, Any]) -> tuple[float | None, float | None]:
    """A run result's first start and last end (epoch seconds) over its timing steps
    (compile, execute), or (None, None) when it has none (a skipped node)."""
    starts, ends = [], []
    for step in result.get("timing") or []:
        if step.get("started_at") and step.get("completed_at"):
            starts.append(datetime.fromisoformat(str(step["started_at"]).replace("Z", "+00:00")).timestamp())
            ends.append(datetime.fromisoformat(str(step["completed_at"]).replace("Z", "+00:00")).timestamp())
    return (min(starts), max(ends)) if starts else (None, None)


@dataclass
class WallTime:
    """One build's wall time, taken apart."""

    outside_nodes: float  # before the first node started and after the last ended
    idle_between: float  # between the first start and the last end, with no node running
    node_seconds: float  # every worker node's time, summed
    main_seconds: float  # the hooks', run on dbt's main thread between the workers' nodes
    threads: int  # distinct worker threads that ran a node
    alone_seconds: float  # time with exactly one node running
    alone_nodes: list[tuple[str, float]] = field(default_factory=list)  # by time run alone, longest first

    @property
    def least_node_wall(self) -> float:
        """The least wall time the nodes could take on their threads (perfect sharing, the
        hooks on their own)."""
        return self.node_seconds / max(self.threads, 1) + self.main_seconds


MAIN_THREAD = "main"  # dbt runs its hooks on its main thread


def wall_time(nodes: Sequence[TimedNode], build_seconds: float) -> WallTime | None:
    """build_seconds taken apart by the nodes' spans; None when no node has a span (results
    saved before spans were recorded). Nodes are told apart by unique_id (a test and a model
    may share a name)."""
    timed = [node for node in nodes if node.started_at is not None and node.completed_at is not None]
    if not timed:
        return None
    spans = [(float(node.started_at or 0.0), float(node.completed_at or 0.0), node.unique_id) for node in timed]
    names = {node.unique_id: node.name for node in timed}
    first, last = min(start for start, _, _ in spans), max(end for _, end, _ in spans)
    # at one moment, ends before starts: a node starting as another ends never overlaps it
    events = sorted([(start, 1, key) for start, _, key in spans] + [(end, -1, key) for _, end, key in spans])
    running: set[str] = set()
    alone: dict[str, float] = {}
    idle = 0.0
    previous = first
    for moment, change, key in events:
        if len(running) == 1:
            (only,) = running
            alone[only] = alone.get(only, 0.0) + (moment - previous)
        elif not running:
            idle += moment - previous
        if change > 0:
            running.add(key)
        else:
            running.discard(key)
        previous = moment
    workers = [node for node in timed if node.thread != MAIN_THREAD]
    return WallTime(
        outside_nodes=max(build_seconds - (last - first), 0.0),
        idle_between=idle,
        node_seconds=sum(node.seconds for node in workers),
        main_seconds=sum(node.seconds for node in timed if node.thread == MAIN_THREAD),
        threads=max(len({node.thread for node in workers if node.thread}), 1),
        alone_seconds=sum(alone.values()),
        alone_nodes=sorted(((names[key], seconds) for key, seconds in alone.items()), key=lambda item: -item[1]),
    )


def describe(wall: WallTime, count: int = 3) -> str:
    """One sentence for the benchmark's targets table."""
    longest = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in wall.alone_nodes[:count] if seconds >= 0.05)
    return (
        f"dbt outside its nodes (start-up, parse, artefacts) {wall.outside_nodes:.1f} s, idle between nodes "
        f"{wall.idle_between:.1f} s; node time {wall.node_seconds:.1f} s on {wall.threads} threads and hooks "
        f"{wall.main_seconds:.1f} s, so at least {wall.least_node_wall:.1f} s; one node running alone for "
        f"{wall.alone_seconds:.1f} s" + (f", longest {longest}" if longest else "")
    )
