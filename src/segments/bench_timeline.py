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

    build_seconds: float
    outside_nodes: float  # before the first node started and after the last ended
    node_seconds: float  # every node's time, summed
    threads: int  # distinct threads that ran a node
    alone_seconds: float  # time with exactly one node running
    alone_nodes: list[tuple[str, float]] = field(default_factory=list)  # by time run alone, longest first

    @property
    def least_node_wall(self) -> float:
        """The least wall time the nodes could take on their threads (perfect sharing)."""
        return self.node_seconds / max(self.threads, 1)


def wall_time(nodes: Sequence[TimedNode], build_seconds: float) -> WallTime | None:
    """build_seconds taken apart by the nodes' spans; None when no node has a span (results
    saved before spans were recorded)."""
    spans = [
        (node.started_at, node.completed_at, node.name)
        for node in nodes
        if node.started_at is not None and node.completed_at is not None
    ]
    if not spans:
        return None
    first, last = min(start for start, _, _ in spans), max(end for _, end, _ in spans)
    events = sorted([(start, 1, name) for start, _, name in spans] + [(end, -1, name) for _, end, name in spans])
    running: dict[str, int] = {}
    alone: dict[str, float] = {}
    previous = first
    for moment, change, name in events:
        active = [key for key, count in running.items() if count > 0]
        if len(active) == 1:
            alone[active[0]] = alone.get(active[0], 0.0) + (moment - previous)
        running[name] = running.get(name, 0) + change
        previous = moment
    # dbt runs its hooks on its main thread, between the workers' nodes
    threads = len({node.thread for node in nodes if node.thread not in ("", "main") and node.started_at is not None})
    return WallTime(
        build_seconds=build_seconds,
        outside_nodes=max(build_seconds - (last - first), 0.0),
        node_seconds=sum(node.seconds for node in nodes),
        threads=max(threads, 1),
        alone_seconds=sum(alone.values()),
        alone_nodes=sorted(alone.items(), key=lambda item: -item[1]),
    )


def describe(wall: WallTime, count: int = 3) -> str:
    """One sentence for the benchmark's targets table."""
    longest = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in wall.alone_nodes[:count] if seconds >= 0.05)
    return (
        f"dbt outside its nodes (start-up, parse, artefacts) {wall.outside_nodes:.1f} s; "
        f"node time {wall.node_seconds:.1f} s on {wall.threads} threads, so at least "
        f"{wall.least_node_wall:.1f} s; one node running alone for {wall.alone_seconds:.1f} s"
        + (f", longest {longest}" if longest else "")
    )
