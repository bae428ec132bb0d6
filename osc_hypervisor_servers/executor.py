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

The executor knows nothing of what a task does (change attributes,
restore them, migrate the server): it runs each task once, at most
``parallel`` at a time per lane, collects one :class:`ServerResult` per
server and reports progress. One server's failure never stops the
others. On Ctrl-C no new task starts; tasks in flight are told to stop
(a task that waits returns at once) and finish; the rest are reported
as not attempted.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
import queue
import threading
import typing

from keystoneauth1 import exceptions as ksa_exceptions
from openstack import exceptions as sdk_exceptions

from osc_hypervisor_servers import servers

# Errors that belong to one server (an HTTP answer, a lost connection);
# anything else is a bug and is allowed to surface.
SERVER_ERRORS = (sdk_exceptions.SDKException, ksa_exceptions.ClientException)

# How often the main thread wakes from waiting, so that Ctrl-C is seen
# at once whatever the platform's lock implementation.
_WAKE_SECONDS = 0.2


@dataclasses.dataclass(frozen=True)
class Status:
    """What happened to one server, as its row's Result shows it."""

    label: str
    #: Whether the server ended where the run wanted it; any other
    #: status makes the command exit non-zero.
    ok: bool

    def __str__(self) -> str:
        return self.label


CHANGED = Status('changed', ok=True)
UNCHANGED = Status('unchanged', ok=True)
WOULD_CHANGE = Status('would change', ok=True)
FAILED = Status('failed', ok=False)
NOT_ATTEMPTED = Status('not attempted', ok=False)


@dataclasses.dataclass(frozen=True)
class ServerResult:
    server: servers.ServerState
    status: Status
    details: str = ''
    #: Columns of the verb's own, e.g. where a server was moved to.
    columns: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Report:
    results: list[ServerResult]
    interrupted: bool = False

    def count(self, *statuses: Status) -> int:
        return sum(1 for result in self.results if result.status in statuses)

    @property
    def failed(self) -> int:
        """Servers that did not end as wanted, not counting those not
        attempted.
        """
        return sum(
            1
            for result in self.results
            if not result.status.ok and result.status != NOT_ATTEMPTED
        )

    @property
    def succeeded(self) -> bool:
        return all(result.status.ok for result in self.results)

    def summary(self) -> str:
        summary = f'{self.failed} of {len(self.results)} servers failed'
        skipped = self.count(NOT_ATTEMPTED)
        if skipped:
            summary += f', {skipped} not attempted'
        return summary


class Task(typing.Protocol):
    """One server's work."""

    @property
    def server(self) -> servers.ServerState: ...

    def run(self, stop: threading.Event) -> ServerResult:
        """Do the work; return the server's row.

        ``stop`` is set on Ctrl-C: a task that waits for something
        should stop waiting and say where things stand.
        """
        ...


#: Called with (servers done, servers to do, failures so far).
Progress = Callable[[int, int, int], None]


def error_text(error: BaseException) -> str:
    if isinstance(error, sdk_exceptions.HttpException):
        reason = error.details or error.message
        return f'HTTP {error.status_code}: {reason}'
    return str(error)


def sorted_results(results: Iterable[ServerResult]) -> list[ServerResult]:
    return sorted(
        results,
        key=lambda r: (
            r.server.hypervisor_hostname or '',
            r.server.name or '',
            r.server.id,
        ),
    )


@dataclasses.dataclass
class _Crash:
    """A task's unexpected error, carried to the main thread."""

    error: BaseException


def run(
    tasks: Sequence[Task],
    parallel: int,
    *,
    lane: Callable[[Task], str] = lambda task: '',
    progress: Progress | None = None,
    settled: Iterable[ServerResult] = (),
) -> Report:
    """Run ``tasks``, at most ``parallel`` at once in each lane.

    Lanes are independent (each source host of a drain is one); tasks
    of a lane start in the order given. ``settled`` are the rows of
    servers that need no task.
    """
    lanes: dict[str, collections.deque[Task]] = {}
    for task in tasks:
        lanes.setdefault(lane(task), collections.deque()).append(task)
    finished: queue.SimpleQueue[ServerResult | _Crash] = queue.SimpleQueue()
    stop = threading.Event()

    def work(pending: collections.deque[Task]) -> None:
        while not stop.is_set():
            try:
                task = pending.popleft()
            except IndexError:
                return
            try:
                finished.put(task.run(stop))
            except BaseException as error:  # noqa: B036 - re-raised below
                finished.put(_Crash(error))
                return

    # Daemon threads: a second Ctrl-C ends the process without waiting.
    workers = [
        threading.Thread(target=work, args=(pending,), daemon=True)
        for pending in lanes.values()
        for _ in range(min(parallel, len(pending)))
    ]
    for worker in workers:
        worker.start()

    results = {result.server.id: result for result in settled}
    done = failed = 0
    interrupted = False

    def collect(item: ServerResult | _Crash) -> None:
        nonlocal done, failed
        if isinstance(item, _Crash):
            stop.set()
            raise item.error
        results[item.server.id] = item
        done += 1
        failed += not item.status.ok

    try:
        while done < len(tasks):
            try:
                collect(finished.get(timeout=_WAKE_SECONDS))
            except queue.Empty:
                continue
            if progress is not None:
                progress(done, len(tasks), failed)
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        for worker in workers:
            worker.join()
        while not finished.empty():
            collect(finished.get())
        for task in tasks:
            results.setdefault(
                task.server.id, ServerResult(task.server, NOT_ATTEMPTED)
            )
    return Report(sorted_results(results.values()), interrupted=interrupted)
