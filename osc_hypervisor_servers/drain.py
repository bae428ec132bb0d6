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

A :class:`MoveTask` submits the server's move, waits for its migration
record (see :mod:`migrations`), confirms a cold migration, and reads the
server once its record says the move ended: a row says ``migrated``
only when the record says so **and** the server is on another
hypervisor, in its power state of before.

A move action is not repeated blindly: after a lost answer the server
may already be moving (or moved, and a second action would move it
again). Before any retry the task looks: a task state, another host or
a record of this move means the first try landed.
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import datetime
import threading
import time

from openstack import exceptions as sdk_exceptions
from openstack.compute.v2 import _proxy

from osc_hypervisor_servers import executor
from osc_hypervisor_servers import migrations
from osc_hypervisor_servers import moves
from osc_hypervisor_servers import retry as retry_module
from osc_hypervisor_servers import servers as servers_module

MIGRATED = executor.Status('migrated', ok=True)
EVACUATED = executor.Status('evacuated', ok=True)
SUBMITTED = executor.Status('submitted', ok=True)
WOULD_MIGRATE = executor.Status('would migrate', ok=True)
WOULD_EVACUATE = executor.Status('would evacuate', ok=True)
#: Not moved on purpose (its state does not allow it): still on its
#: hypervisor, so the run did not empty it.
SKIPPED = executor.Status('skipped', ok=False)
TIMED_OUT = executor.Status('timed out', ok=False)
#: Ctrl-C came while Nova was moving it; Nova goes on.
IN_PROGRESS = executor.Status('in progress', ok=False)

_MIGRATION_TYPE: dict[moves.Kind, str] = {
    moves.LIVE: migrations.LIVE_MIGRATION,
    moves.COLD: migrations.COLD_MIGRATION,
    moves.EVACUATE: migrations.EVACUATION,
}
_DONE: dict[moves.Kind, frozenset[str]] = {
    moves.LIVE: migrations.LIVE_DONE,
    moves.COLD: migrations.COLD_FINISHED,
    moves.EVACUATE: migrations.EVACUATION_DONE,
}
_ACTION: dict[moves.Kind, str] = {
    moves.LIVE: 'live-migration',
    moves.COLD: 'migrate',
    moves.EVACUATE: 'evacuate',
}
#: How long --no-wait looks for the record of a move it submitted.
RECORD_GRACE_SECONDS = 15.0
#: How long a finished cold migration may take to show VERIFY_RESIZE.
VERIFY_RESIZE_GRACE_SECONDS = 30.0
_READ_PAUSE_SECONDS = 0.5


class _Gone(Exception):
    """The server was deleted during the run."""


class _Landed(Exception):
    """A move whose answer was lost did reach Nova."""


@dataclasses.dataclass(frozen=True)
class DrainOptions:
    compute: _proxy.Proxy
    retry: retry_module.RetryPolicy
    watcher: migrations.Watcher
    clock: migrations.NovaClock
    microversion: str
    wait: bool = True
    confirm: bool = True
    timeout: float = 1800.0


def preview(plan: moves.MovePlan) -> executor.ServerResult:
    """The row a real run would start from, without any call."""
    if plan.kind is None:
        return skipped(plan)
    status = WOULD_EVACUATE if plan.kind == moves.EVACUATE else WOULD_MIGRATE
    return executor.ServerResult(
        plan.server,
        status,
        f'{moves.DESCRIPTION[plan.kind]} to '
        f'{plan.target or "a host the scheduler picks"}',
        _columns(plan, plan.target),
    )


def skipped(plan: moves.MovePlan) -> executor.ServerResult:
    return executor.ServerResult(plan.server, SKIPPED, plan.reason)


def _columns(
    plan: moves.MovePlan,
    destination: str | None = None,
    record: migrations.Record | None = None,
) -> dict[str, str]:
    return {
        'Action': moves.DESCRIPTION[plan.kind] if plan.kind else '',
        'Destination': destination or '',
        'Migration': str(record.id) if record else '',
    }


def _elapsed(started: float) -> str:
    return f'{time.monotonic() - started:.1f} s'


@dataclasses.dataclass(frozen=True)
class MoveTask:
    plan: moves.MovePlan
    options: DrainOptions

    @property
    def server(self) -> servers_module.ServerState:
        return self.plan.server

    @property
    def source(self) -> str:
        return self.server.compute_host or ''

    @property
    def kind(self) -> moves.Kind:
        assert self.plan.kind is not None
        return self.plan.kind

    @property
    def migration_type(self) -> str:
        return _MIGRATION_TYPE[self.kind]

    def run(self, stop: threading.Event) -> executor.ServerResult:
        started = time.monotonic()
        deadline = started + self.options.timeout
        since = self.options.clock.now() - datetime.timedelta(seconds=2)
        try:
            self._submit(since)
            if not self.options.wait:
                return self._submitted(since, stop)
            return self._follow(since, stop, started, deadline)
        except _Gone:
            return self._result(executor.FAILED, 'the server no longer exists')
        except executor.SERVER_ERRORS as error:
            return self._result(
                executor.FAILED,
                f'{moves.DESCRIPTION[self.kind]}: '
                f'{executor.error_text(error)}',
            )

    # Submitting, judged by the server's state after a lost answer.

    def _body(self) -> dict[str, object]:
        target = self.plan.target
        if self.kind == moves.LIVE:
            return {
                'os-migrateLive': {'host': target, 'block_migration': 'auto'}
            }
        if self.kind == moves.COLD:
            return {'migrate': {'host': target} if target else None}
        return {'evacuate': {'host': target} if target else {}}

    def _act(self, body: dict[str, object]) -> None:
        migrations.act(
            self.options.compute,
            self.options.clock,
            self.server.id,
            body,
            self.options.microversion,
        )

    def _judged(
        self,
        body: dict[str, object],
        landed: Callable[[], bool],
    ) -> None:
        """Send an action; retried only while ``landed()`` says no."""
        lost = False

        def attempt() -> None:
            if lost and landed():
                raise _Landed
            self._act(body)

        def note_lost(error: BaseException) -> None:
            nonlocal lost
            lost = True

        try:
            self.options.retry.call(attempt, on_retry=note_lost)
        except _Landed:
            return
        except sdk_exceptions.HttpException:
            # The retry of an action that landed meets Nova's refusal
            # (409 "task_state migrating", 400 "still in use"...).
            if lost and landed():
                return
            raise

    def _submit(self, since: datetime.datetime) -> None:
        self._judged(self._body(), lambda: self._move_landed(since))

    def _read(self) -> servers_module.ServerState:
        server = servers_module.read_server(
            self.options.compute, self.server.id, self.options.retry
        )
        if server is None:
            raise _Gone
        return server

    def _move_landed(self, since: datetime.datetime) -> bool:
        server = self._read()
        if server.compute_host != self.source or server.task_state:
            return True
        # A move that already ended (or failed) left its record.
        found = migrations.records_of(
            self.options.compute, self.server.id, self.options.retry
        )
        self.options.watcher.learn(found)
        return any(
            migrations.is_ours(
                record, self.server.id, self.migration_type, since
            )
            for record in found
        )

    # Waiting and judging.

    def _wait(
        self,
        since: datetime.datetime,
        until: frozenset[str] | None,
        stop: threading.Event,
        deadline: float,
    ) -> migrations.Record | None:
        return self.options.watcher.wait(
            self.source,
            self.server.id,
            self.migration_type,
            since,
            until,
            stop,
            deadline,
        )

    def _submitted(
        self, since: datetime.datetime, stop: threading.Event
    ) -> executor.ServerResult:
        record = self._wait(
            since,
            None,
            stop,
            time.monotonic() + RECORD_GRACE_SECONDS,
        )
        details = (
            record.describe() if record else 'no migration record seen yet'
        )
        if self.kind == moves.COLD and self.options.confirm:
            details += (
                '; confirm it once the server is VERIFY_RESIZE: openstack '
                f'server migration confirm {self.server.id}'
            )
        return self._result(SUBMITTED, details, record=record)

    def _follow(
        self,
        since: datetime.datetime,
        stop: threading.Event,
        started: float,
        deadline: float,
    ) -> executor.ServerResult:
        ended = self._until(since, _DONE[self.kind], stop, deadline)
        if (
            self.kind == moves.COLD
            and self.options.confirm
            and (isinstance(ended, migrations.Record))
        ):
            self._confirm(stop, deadline)
            ended = self._until(
                since, migrations.COLD_CONFIRMED, stop, deadline
            )
        if isinstance(ended, migrations.Record):
            return self._verify(ended, started)
        return ended

    def _until(
        self,
        since: datetime.datetime,
        done: frozenset[str],
        stop: threading.Event,
        deadline: float,
    ) -> migrations.Record | executor.ServerResult:
        """The record once its status is in ``done``, or the row that
        ends the task: failed, timed out, or in progress after Ctrl-C.
        """
        record = self._wait(since, done, stop, deadline)
        if record is not None and record.status in done:
            return record
        if record is not None and record.status in migrations.FAILED_STATUSES:
            return self._failed(record, since)
        where = record.describe() if record else 'no migration record yet'
        if stop.is_set():
            return self._result(
                IN_PROGRESS,
                f'interrupted while Nova moves it ({where}); Nova goes on',
                record=record,
            )
        return self._result(
            TIMED_OUT,
            f'not done after {self.options.timeout:g} s ({where})',
            record=record,
        )

    def _confirm(self, stop: threading.Event, deadline: float) -> None:
        grace = time.monotonic() + VERIFY_RESIZE_GRACE_SECONDS
        # The record says finished a moment before the server shows it.
        while self._read().status != 'VERIFY_RESIZE':
            if time.monotonic() > min(grace, deadline) or stop.is_set():
                break
            time.sleep(_READ_PAUSE_SECONDS)
        self._judged(
            {'confirmResize': None},
            lambda: self._read().status != 'VERIFY_RESIZE',
        )

    def _verify(
        self, record: migrations.Record, started: float
    ) -> executor.ServerResult:
        server = self._read()
        where = server.hypervisor_hostname or server.compute_host or ''
        if server.compute_host == self.source:
            return self._result(
                executor.FAILED,
                f'{record.describe()}, but the server is still on '
                f'{self.source} ({server.status})',
                record=record,
            )
        awaiting_confirmation = (
            self.kind == moves.COLD
            and not self.options.confirm
            and server.status == 'VERIFY_RESIZE'
        )
        kept_state = (
            self.kind == moves.EVACUATE
            or awaiting_confirmation
            or server.status == self.server.status
        )
        if not kept_state or server.task_state:
            return self._result(
                executor.FAILED,
                f'{record.describe()}: the server is {server.status}'
                f'{f" ({server.task_state})" if server.task_state else ""} '
                f'on {where}, it was {self.server.status}',
                destination=where,
                record=record,
            )
        details = f'{moves.DESCRIPTION[self.kind]} in {_elapsed(started)}'
        if self.kind == moves.EVACUATE:
            details += f', {server.status} on {where}'
        elif awaiting_confirmation:
            details += ', not confirmed (--no-confirm)'
        status = EVACUATED if self.kind == moves.EVACUATE else MIGRATED
        return self._result(status, details, destination=where, record=record)

    def _failed(
        self, record: migrations.Record, since: datetime.datetime
    ) -> executor.ServerResult:
        return self._result(
            executor.FAILED,
            f'{record.describe()}: {self._reason(since)}; still on '
            f'{self._read().hypervisor_hostname or self.source}',
            record=record,
        )

    def _reason(self, since: datetime.datetime) -> str:
        """Why Nova did not move the server: its instance action's error."""
        compute = self.options.compute
        try:
            actions = [
                action
                for action in self.options.retry.call(
                    lambda: list(compute.server_actions(self.server.id))
                )
                if action.action == _ACTION[self.kind]
            ]
            if not actions:
                return 'Nova recorded no reason'
            newest = max(actions, key=lambda action: action.start_time or '')
            action = self.options.retry.call(
                lambda: compute.get_server_action(
                    newest.request_id, self.server.id
                )
            )
        except executor.SERVER_ERRORS as error:
            return f'no reason: {executor.error_text(error)}'
        for event in action.events or []:
            if event.result == 'Error':
                detail = (event.details or '').strip() or 'Error'
                return f'{event.event}: {detail}'
        return action.message or 'Nova recorded no reason'

    def _result(
        self,
        status: executor.Status,
        details: str,
        destination: str | None = None,
        record: migrations.Record | None = None,
    ) -> executor.ServerResult:
        return executor.ServerResult(
            self.server,
            status,
            details,
            _columns(self.plan, destination, record),
        )
