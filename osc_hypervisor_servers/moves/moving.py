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

"""Moving one server off its hypervisor, and knowing where it went.

A :class:`MoveTask` takes four steps: it **submits** the server's move,
**follows** its migration record (through the run's watcher),
**confirms** a cold migration, and **verifies** where the server ended
once the record says the move did and the server shows it: Nova saves
the record first (:mod:`.judging`).

A move is never sent twice (:data:`..runner.judged.LOOK_FIRST`): after a
lost answer the server may already be moving, or moved, and a second
action would move it again. Before any resend the task looks: a task
state, another host or a record of this move means the first try
landed.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import datetime
import functools
import threading
import time

from openstack.compute.v2 import _proxy

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import drain_options
from osc_hypervisor_servers.moves import judging
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import watching
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import judged
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.selection import listings

#: How long --no-wait looks for the record of a move it submitted.
RECORD_GRACE_SECONDS = 15.0
#: How long a server may take to show what its migration record says:
#: Nova saves a cold migration's "finished" before the server shows
#: VERIFY_RESIZE, and its "confirmed" before the server leaves it.
CATCH_UP_SECONDS = 30.0
_READ_PAUSE_SECONDS = 0.5
# Nova's clock is known to the second (the Date header): a record made
# by the action may look up to this much older than the action.
_CLOCK_SLACK = datetime.timedelta(seconds=2)


class _Gone(Exception):
    """The server was deleted during the run."""


def _caught_up(
    read: Callable[[], model.ServerState],
    shows: Callable[[model.ServerState], bool],
    stop: threading.Event,
    deadline: float,
) -> model.ServerState:
    """The server once it ``shows`` what its record said, or as it is
    after CATCH_UP_SECONDS, at ``deadline`` or on Ctrl-C.
    """
    until = min(time.monotonic() + CATCH_UP_SECONDS, deadline)
    server = read()
    while not (shows(server) or stop.is_set()):
        if time.monotonic() > until:
            break
        time.sleep(_READ_PAUSE_SECONDS)
        server = read()
    return server


@dataclasses.dataclass(frozen=True)
class Tracking:
    """What every move of a run shares: Nova, its clock and the watcher."""

    compute: _proxy.Proxy
    retry: retrying.RetryPolicy
    watcher: watching.Watcher
    clock: migrations.NovaClock
    #: The moves are sent at the session's microversion.
    microversion: str


#: The end of a step: the record it waited for, or the row that ends
#: the task (failed, timed out, or in progress after Ctrl-C).
Followed = migrations.Record | reporting.ServerResult


@dataclasses.dataclass(frozen=True)
class MoveTask:
    plan: planning.MovePlan
    waiting: drain_options.Waiting
    tracking: Tracking

    @property
    def server(self) -> model.ServerState:
        return self.plan.server

    def preview(self) -> reporting.ServerResult:
        return judging.preview(self.plan)

    def run(self, stop: threading.Event) -> reporting.ServerResult:
        started = time.monotonic()
        key = watching.MoveKey(
            self.server.compute_host or '',
            self.server.id,
            self.plan.kind.migration_type,
            self.tracking.clock.now() - _CLOCK_SLACK,
        )
        try:
            refused = self._submit(key)
            if refused is not None:
                return refused
            if not self.waiting.wait:
                return self._submitted(key, stop)
            deadline = started + self.waiting.timeout
            ended = self._follow(key, stop, deadline)
            if isinstance(ended, reporting.ServerResult):
                return ended
            return self._verify(ended, stop, deadline, started)
        except _Gone:
            return self._row(reporting.FAILED, 'the server no longer exists')
        except errors.SERVER_ERRORS as error:
            return self._refused(error)

    # 1. Submit.

    def _submit(self, key: watching.MoveKey) -> reporting.ServerResult | None:
        """Send the move; the row that ends the task if Nova refused it."""
        sent = judged.send(
            functools.partial(
                self._act, self.plan.kind.body(self.plan.target)
            ),
            functools.partial(self._move_landed, key),
            judged.LOOK_FIRST,
            self.tracking.retry,
        )
        return None if sent.error is None else self._refused(sent.error)

    def _act(self, body: dict[str, object]) -> None:
        migrations.act(
            self.tracking.compute,
            self.tracking.clock,
            self.server.id,
            body,
            self.tracking.microversion,
        )

    def _read(self) -> model.ServerState:
        server = listings.read_server(
            self.tracking.compute, self.server.id, self.tracking.retry
        )
        if server is None:
            raise _Gone
        return server

    def _move_landed(self, key: watching.MoveKey) -> bool:
        server = self._read()
        if server.compute_host != key.host or server.task_state:
            return True
        # A move that already ended (or failed) left its record.
        found = migrations.records_of(
            self.tracking.compute, self.server.id, self.tracking.retry
        )
        self.tracking.watcher.learn(found)
        return any(
            record.is_of(key.server_id, key.migration_type, key.since)
            for record in found
        )

    def _submitted(
        self, key: watching.MoveKey, stop: threading.Event
    ) -> reporting.ServerResult:
        record = self.tracking.watcher.wait(
            key, None, stop, time.monotonic() + RECORD_GRACE_SECONDS
        )
        return judging.submitted(self.plan, self.waiting, record)

    # 2. Follow, 3. confirm.

    def _follow(
        self, key: watching.MoveKey, stop: threading.Event, deadline: float
    ) -> Followed:
        ended = self._until(key, self.plan.kind.done_statuses, stop, deadline)
        if (
            isinstance(ended, migrations.Record)
            and self.plan.kind is kinds.COLD
            and self.waiting.confirm
        ):
            self._confirm(stop, deadline)
            ended = self._until(key, kinds.COLD_CONFIRMED, stop, deadline)
        return ended

    def _until(
        self,
        key: watching.MoveKey,
        done: frozenset[str],
        stop: threading.Event,
        deadline: float,
    ) -> Followed:
        """The record once its status is in ``done``, or the row that
        ends the task.
        """
        record = self.tracking.watcher.wait(key, done, stop, deadline)
        if record is not None and record.status in done:
            return record
        if record is not None and record.status in kinds.FAILED_STATUSES:
            reason = judging.failure_reason(
                self.tracking.compute, self.tracking.retry, self.plan
            )
            where = self._read().hypervisor_hostname or key.host
            return self._row(
                reporting.FAILED,
                f'{record.describe()}: {reason}; still on {where}',
                record=record,
            )
        if stop.is_set():
            return judging.interrupted(self.plan, record)
        where = record.describe() if record else 'no migration record yet'
        return self._row(
            reporting.TIMED_OUT,
            f'not done after {self.waiting.timeout:g} s ({where})',
            record=record,
        )

    def _confirm(self, stop: threading.Event, deadline: float) -> None:
        _caught_up(
            self._read,
            lambda server: server.status == 'VERIFY_RESIZE',
            stop,
            deadline,
        )
        sent = judged.send(
            functools.partial(self._act, {'confirmResize': None}),
            lambda: self._read().status != 'VERIFY_RESIZE',
            judged.LOOK_FIRST,
            self.tracking.retry,
        )
        if sent.error is not None:
            raise sent.error

    # 4. Verify.

    def _verify(
        self,
        ended: migrations.Record,
        stop: threading.Event,
        deadline: float,
        started: float,
    ) -> reporting.ServerResult:
        """The row of a move whose record says it ended, judged by the
        server once it shows that end.
        """
        shows = functools.partial(
            judging.shows_the_end, self.plan, self.waiting
        )
        now = _caught_up(self._read, shows, stop, deadline)
        if stop.is_set() and not shows(now):
            return judging.interrupted(self.plan, ended)
        return judging.verdict(
            self.plan, self.waiting, ended, now, time.monotonic() - started
        )

    # Rows.

    def _refused(self, error: BaseException) -> reporting.ServerResult:
        return self._row(
            reporting.FAILED,
            f'{self.plan.kind.label}: {errors.error_text(error)}',
        )

    def _row(
        self,
        status: reporting.Status,
        details: str,
        record: migrations.Record | None = None,
    ) -> reporting.ServerResult:
        return judging.row(self.plan, status, details, record=record)
