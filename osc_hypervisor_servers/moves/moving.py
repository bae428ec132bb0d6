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
the record first (:mod:`.verdicts`).

A move is never sent twice (:data:`..runner.landing.LOOK_FIRST`): after a
lost answer the server may already be moving, or moved, and a second
action would move it again. Before any resend the task looks: a task
state, another host or a record of this move means the first try
landed. Nor is a server moved that another request moves or moved
since the listing (a record of it from its host, or Nova's refusal of a
server busy moving): that move is followed instead (:mod:`.others`).
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import others
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import tracking as tracking_
from osc_hypervisor_servers.moves import verdicts
from osc_hypervisor_servers.moves import watching
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import landing
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying

#: How long --no-wait looks for the record of a move it submitted.
RECORD_GRACE_SECONDS = 15.0
#: Nova's refusals of a move whose server another request is moving:
#: 409 for its task state, 500 UnexpectedTaskStateError in a race.
BUSY_STATUS_CODES = (409, 500)


@dataclasses.dataclass
class _Trace:
    """How far one task got: for its row when Nova stops answering."""

    sent: bool = False
    key: watching.MoveKey | None = None


@dataclasses.dataclass(frozen=True)
class MoveTask:
    plan: planning.MovePlan
    waiting: move_options.Waiting
    tracking: tracking_.Tracking

    @property
    def server(self) -> model.ServerState:
        return self.plan.server

    def preview(self) -> reporting.ServerResult:
        return verdicts.preview(self.plan)

    def run(self, stop: threading.Event) -> reporting.ServerResult:
        started = time.monotonic()
        trace = _Trace()
        try:
            return self._move(stop, started, trace)
        except tracking_.Gone:
            return self._row(reporting.GONE, 'the server no longer exists')
        except retrying.NovaUnreachable as error:
            record = None
            if trace.key is not None:
                record = self.tracking.watcher.latest(trace.key)
            sent = trace.sent or (self.plan.underway and not error.unsent)
            return verdicts.unreachable(self.plan, error, sent, record)
        except errors.SERVER_ERRORS as error:
            return self._refused(error)

    def _move(
        self, stop: threading.Event, started: float, trace: _Trace
    ) -> reporting.ServerResult:
        deadline = started + self.waiting.timeout
        taken = self._taken(stop, deadline)
        if taken is not None:
            return taken
        key = trace.key = watching.MoveKey(
            self.server.compute_host or '',
            self.server.id,
            self.plan.kind.migration_type,
            self.tracking.clock.now() - migrations.CLOCK_SLACK,
        )
        error = self._submit(key, trace)
        if error is not None:
            taken = None
            if errors.status_code(error) in BUSY_STATUS_CODES:
                taken = self._take_over(stop, deadline)
            return taken or self._refused(error)
        if not self.waiting.wait:
            return self._submitted(key, stop)
        ended = self._follow(key, stop, deadline)
        if isinstance(ended, reporting.ServerResult):
            return ended
        return self._verify(ended, stop, deadline, started)

    def _taken(
        self, stop: threading.Event, deadline: float
    ) -> reporting.ServerResult | None:
        """The row of a server another request moves or moved since the
        listing, as the plan or the run's watcher saw; None: it is the
        run's to move.
        """
        if not (
            self.plan.underway
            or self.tracking.watcher.moved_from(
                self.server.id,
                self.server.compute_host or '',
                self.tracking.clock.now(),
            )
        ):
            return None
        return self._take_over(stop, deadline)

    def _take_over(
        self, stop: threading.Event, deadline: float
    ) -> reporting.ServerResult | None:
        return others.take_over(
            self.tracking, self.plan, self.waiting.timeout, stop, deadline
        )

    # 1. Submit.

    def _submit(
        self, key: watching.MoveKey, trace: _Trace
    ) -> BaseException | None:
        """Send the move; Nova's refusal, if it refused."""
        try:
            sent = landing.send(
                functools.partial(
                    self.tracking.act,
                    self.server.id,
                    self.plan.kind.body(self.plan.target),
                ),
                functools.partial(self._move_landed, key),
                landing.LOOK_FIRST,
                self.tracking.retry,
            )
        except retrying.NovaUnreachable as error:
            trace.sent = not error.unsent
            raise
        trace.sent = True
        return sent.error

    def _read(self) -> model.ServerState:
        return self.tracking.read(self.server.id)

    def _move_landed(self, key: watching.MoveKey) -> bool:
        server = self._read()
        if server.compute_host != key.host or server.task_state:
            return True
        # A move that already ended (or failed) left its record.
        return any(
            record.is_of(key.server_id, key.migration_type, key.since)
            for record in self.tracking.records_of(self.server.id)
        )

    def _submitted(
        self, key: watching.MoveKey, stop: threading.Event
    ) -> reporting.ServerResult:
        record = self.tracking.watcher.wait(
            key, None, stop, time.monotonic() + RECORD_GRACE_SECONDS
        )
        return verdicts.submitted(self.plan, self.waiting, record)

    # 2. Follow, 3. confirm.

    def _follow(
        self, key: watching.MoveKey, stop: threading.Event, deadline: float
    ) -> tracking_.Followed:
        until = functools.partial(
            tracking_.until,
            self.tracking,
            self.plan,
            key,
            stop=stop,
            deadline=deadline,
            timeout=self.waiting.timeout,
        )
        ended = until(done=self.plan.kind.done_statuses)
        if (
            isinstance(ended, migrations.Record)
            and self.plan.kind is kinds.COLD
            and self.waiting.confirm
        ):
            self._confirm(stop, deadline)
            ended = until(done=kinds.COLD_CONFIRMED)
        return ended

    def _confirm(self, stop: threading.Event, deadline: float) -> None:
        tracking_.caught_up(
            self._read,
            lambda server: server.status == 'VERIFY_RESIZE',
            stop,
            deadline,
        )
        sent = landing.send(
            functools.partial(
                self.tracking.act, self.server.id, {'confirmResize': None}
            ),
            lambda: self._read().status != 'VERIFY_RESIZE',
            landing.LOOK_FIRST,
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
            verdicts.shows_the_end, self.plan, self.waiting
        )
        now = tracking_.caught_up(self._read, shows, stop, deadline)
        if stop.is_set() and not shows(now):
            return verdicts.interrupted(self.plan, ended)
        return verdicts.verdict(
            self.plan, self.waiting, ended, now, time.monotonic() - started
        )

    # Rows.

    def _refused(self, error: BaseException) -> reporting.ServerResult:
        return self._row(
            reporting.FAILED,
            f'{self.plan.kind.label}: {errors.error_text(error)}',
        )

    def _row(
        self, status: reporting.Status, details: str
    ) -> reporting.ServerResult:
        return verdicts.row(self.plan, status, details)
