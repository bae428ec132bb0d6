#   Licensed under the Apache License, Version 2.0 (the "License"); you may
#   not use this file except in compliance with the License. You may obtain
#   a copy of the License at
#
#        http://www.apache.org/licenses/LICENSE-2.0
#
#   Unless required by applicable law or agreed to in writing, software
#   distributed under the License is distributed on an "AS IS" BASIS, WITHOUT
#   WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied. See the
#   License for the specific language governing permissions and limitations
#   under the License.

"""Running per-server tasks: bounded concurrency, Ctrl-C, one row each.

The pool knows nothing of what a task does (change attributes, restore
them, migrate the server): it runs each task once, at most ``parallel``
at a time per lane, collects one row per server and reports progress.
One server's failure never stops the others. On Ctrl-C no new task
starts; tasks in flight are told to stop (a task that waits returns at
once) and finish; the rest are reported as not attempted.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
import dataclasses
import queue
import threading
import time
import typing

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.runner import reporting

# How often the main thread wakes from waiting, so that Ctrl-C is seen
# at once whatever the platform's lock implementation.
_WAKE_SECONDS = 0.2
# How often progress is told while nothing finishes (its clock moves).
_TICK_SECONDS = 1.0


class Task(typing.Protocol):
    """One server's work."""

    @property
    def server(self) -> model.ServerState: ...

    def preview(self) -> reporting.ServerResult:
        """The row a real run would start from, without any call."""
        ...

    def run(self, stop: threading.Event) -> reporting.ServerResult:
        """Do the work; return the server's row.

        ``stop`` is set on Ctrl-C: a task that waits for something
        should stop waiting and say where things stand.
        """
        ...


@dataclasses.dataclass(frozen=True)
class Tally:
    """Where a run stands, for a progress line."""

    done: int
    total: int
    failed: int
    in_flight: int
    #: Seconds since the first task started.
    elapsed: float
    #: Which part of a longer run this is (``maintain``'s host and
    #: phase), if any.
    stage: str = ''


#: Told the tally when a task ends, and every second in between.
Progress = Callable[[Tally], None]


def one_lane(task: Task) -> str:
    return ''


@dataclasses.dataclass
class _Crash:
    """A task's unexpected error, carried to the main thread."""

    error: BaseException


class _Shared:
    """What the workers and the main thread share."""

    def __init__(self) -> None:
        self.finished: queue.SimpleQueue[reporting.ServerResult | _Crash] = (
            queue.SimpleQueue()
        )
        self.stop = threading.Event()
        self.started = 0
        self._lock = threading.Lock()

    def take(self, pending: collections.deque[Task]) -> Task | None:
        with self._lock:
            if self.stop.is_set() or not pending:
                return None
            self.started += 1
            return pending.popleft()

    def work(self, pending: collections.deque[Task]) -> None:
        while (task := self.take(pending)) is not None:
            try:
                self.finished.put(task.run(self.stop))
            except BaseException as error:  # noqa: B036 - re-raised there
                self.finished.put(_Crash(error))
                return


class _Rows:
    """The rows collected so far, one per server."""

    def __init__(self, ready: Iterable[reporting.ServerResult]) -> None:
        self.by_server = {result.server.id: result for result in ready}
        self.done = 0
        self.failed = 0

    def add(self, item: reporting.ServerResult | _Crash) -> None:
        if isinstance(item, _Crash):
            raise item.error
        self.by_server[item.server.id] = item
        self.done += 1
        self.failed += not item.status.ok

    def report(self, interrupted: bool = False) -> reporting.Report:
        return reporting.Report(
            reporting.sorted_results(self.by_server.values()),
            interrupted=interrupted,
        )


def _lanes(
    tasks: Sequence[Task], lane: Callable[[Task], str]
) -> list[collections.deque[Task]]:
    lanes: dict[str, collections.deque[Task]] = {}
    for task in tasks:
        lanes.setdefault(lane(task), collections.deque()).append(task)
    return list(lanes.values())


def run_tasks(
    tasks: Sequence[Task],
    parallel: int,
    *,
    lane: Callable[[Task], str] = one_lane,
    progress: Progress | None = None,
    rows_without_task: Iterable[reporting.ServerResult] = (),
) -> reporting.Report:
    """Run ``tasks``, at most ``parallel`` at once in each lane.

    Lanes are independent (each source host of a drain is one); tasks
    of a lane start in the order given. ``rows_without_task`` are the
    rows of servers that need no task.
    """
    shared = _Shared()
    # Daemon threads: a second Ctrl-C ends the process without waiting.
    workers = [
        threading.Thread(target=shared.work, args=(pending,), daemon=True)
        for pending in _lanes(tasks, lane)
        for _ in range(min(parallel, len(pending)))
    ]
    started = time.monotonic()
    for worker in workers:
        worker.start()
    rows = _Rows(rows_without_task)
    try:
        _collect(shared, rows, len(tasks), progress, started)
    except KeyboardInterrupt:
        shared.stop.set()
        for worker in workers:
            worker.join()
        while not shared.finished.empty():
            rows.add(shared.finished.get())
        for task in tasks:
            rows.by_server.setdefault(
                task.server.id,
                reporting.ServerResult(task.server, reporting.NOT_ATTEMPTED),
            )
        return rows.report(interrupted=True)
    except BaseException:
        shared.stop.set()
        raise
    return rows.report()


def _collect(
    shared: _Shared,
    rows: _Rows,
    total: int,
    progress: Progress | None,
    started: float,
) -> None:
    """Gather the rows of ``total`` tasks, telling ``progress``."""
    told = started
    while rows.done < total:
        try:
            rows.add(shared.finished.get(timeout=_WAKE_SECONDS))
        except queue.Empty:
            if time.monotonic() - told < _TICK_SECONDS:
                continue
        if progress is not None:
            told = time.monotonic()
            progress(
                Tally(
                    done=rows.done,
                    total=total,
                    failed=rows.failed,
                    in_flight=shared.started - rows.done,
                    elapsed=told - started,
                )
            )
