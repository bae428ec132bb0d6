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

"""A move's row: what a run says of each server it moved, or did not.

A server is ``migrated`` (``evacuated``) only when its record says the
move completed **and** the server is on another hypervisor, in its power
state of before (for an evacuation, as Nova leaves it).
"""

from __future__ import annotations

from collections.abc import Mapping
import dataclasses

from openstack.compute.v2 import _proxy

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying

MIGRATED = reporting.Status('migrated', ok=True)
EVACUATED = reporting.Status('evacuated', ok=True)
SUBMITTED = reporting.Status('submitted', ok=True)
WOULD_MIGRATE = reporting.Status('would migrate', ok=True)
WOULD_EVACUATE = reporting.Status('would evacuate', ok=True)
#: Ctrl-C came while Nova was moving it; Nova goes on.
IN_PROGRESS = reporting.Status('in progress', ok=False)
#: Left where someone else put it since: restore never moves it.
KEPT = reporting.Status('kept', ok=True)
#: Found on a drained hypervisor after the moves, with no move of ours.
ARRIVED = reporting.Status('arrived', ok=False)

#: The columns of a move's row, between Result and Details.
COLUMNS = ('Action', 'Destination', 'Migration')
#: And the pre-flight's estimate, when it ran.
PREFLIGHT_COLUMN = 'Pre-flight'


@dataclasses.dataclass(frozen=True)
class MoveResult(reporting.ServerResult):
    """A move's row: how the server moved, where to, by which record."""

    action: str = ''
    #: Where the server went, as rows show it (its hypervisor), or the
    #: host asked for.
    destination: str = ''
    #: The compute host the server went to, for the journal; None while
    #: the run does not know.
    destination_host: str | None = None
    migration: int | None = None
    #: The pre-flight's estimate, when it ran.
    fit: str = ''

    def columns(self) -> Mapping[str, str]:
        own = {
            'Action': self.action,
            'Destination': self.destination,
            'Migration': '' if self.migration is None else str(self.migration),
        }
        if self.fit:
            own[PREFLIGHT_COLUMN] = self.fit
        return own


def row(
    plan: planning.MovePlan,
    status: reporting.Status,
    details: str,
    landed: model.ServerState | None = None,
    record: migrations.Record | None = None,
) -> MoveResult:
    """A move's row; ``landed`` is the server where the move left it."""
    destination = plan.target
    if landed is not None:
        destination = landed.hypervisor_hostname or landed.compute_host
    return MoveResult(
        plan.server,
        status,
        details,
        action=plan.kind.label,
        destination=destination or '',
        destination_host=None if landed is None else landed.compute_host,
        migration=None if record is None else record.id,
        fit=plan.fit,
    )


def preview(plan: planning.MovePlan) -> reporting.ServerResult:
    """The row a real run would start from, without any call."""
    status = WOULD_EVACUATE if plan.kind is kinds.EVACUATE else WOULD_MIGRATE
    if plan.underway:
        return row(
            plan,
            status,
            f'another request\'s {plan.kind.label} is under way (task '
            f'{plan.server.task_state}): followed, not sent again',
        )
    return row(
        plan,
        status,
        f'{plan.kind.label} to {plan.target or "a host the scheduler picks"}',
    )


def submitted(
    plan: planning.MovePlan,
    waiting: move_options.Waiting,
    record: migrations.Record | None,
) -> reporting.ServerResult:
    """The row of a move sent without waiting for it (``--no-wait``)."""
    details = record.describe() if record else 'no migration record seen yet'
    if plan.kind is kinds.COLD and waiting.confirm:
        details += (
            '; confirm it once the server is VERIFY_RESIZE: openstack '
            f'server migration confirm {plan.server.id}'
        )
    return row(plan, SUBMITTED, details, record=record)


def interrupted(
    plan: planning.MovePlan, record: migrations.Record | None
) -> reporting.ServerResult:
    """The row of a move no longer followed after Ctrl-C."""
    where = record.describe() if record else 'no migration record yet'
    return row(
        plan,
        IN_PROGRESS,
        f'interrupted while Nova moves it ({where}); Nova goes on',
        record=record,
    )


def staying(plan: planning.StayPlan) -> MoveResult:
    """The row of a server the run leaves where it is."""
    return MoveResult(plan.server, plan.status, plan.reason, fit=plan.fit)


def shows_the_end(
    plan: planning.MovePlan,
    waiting: move_options.Waiting,
    server: model.ServerState,
) -> bool:
    """Whether ``server`` shows the end of its move: no task under way,
    and a cold migration confirmed (or, when the run does not confirm
    it, awaiting confirmation).
    """
    if server.task_state:
        return False
    if plan.kind is not kinds.COLD:
        return True
    return (server.status == 'VERIFY_RESIZE') != waiting.confirm


def verdict(
    plan: planning.MovePlan,
    waiting: move_options.Waiting,
    record: migrations.Record,
    now: model.ServerState,
    seconds: float,
) -> reporting.ServerResult:
    """The row of a move whose record says it ended, from where the
    server is ``now``; it took ``seconds``.
    """
    before = plan.server
    where = now.hypervisor_hostname or now.compute_host or ''
    if now.compute_host == before.compute_host:
        return row(
            plan,
            reporting.FAILED,
            f'{record.describe()}, but the server is still on '
            f'{before.compute_host} ({now.status})',
            record=record,
        )
    if plan.target is not None and now.compute_host != plan.target:
        return row(
            plan,
            reporting.FAILED,
            f'{record.describe()}, but the server is on {where}, not on '
            f'{plan.target}',
            now,
            record,
        )
    awaiting_confirmation = (
        plan.kind is kinds.COLD
        and not waiting.confirm
        and now.status == 'VERIFY_RESIZE'
    )
    kept_state = (
        plan.kind is kinds.EVACUATE
        or awaiting_confirmation
        or now.status == before.status
    )
    if not kept_state or now.task_state:
        task = f' ({now.task_state})' if now.task_state else ''
        return row(
            plan,
            reporting.FAILED,
            f'{record.describe()}: the server is {now.status}{task} on '
            f'{where}, it was {before.status}',
            now,
            record,
        )
    details = f'{plan.kind.label} in {seconds:.1f} s'
    if plan.kind is kinds.EVACUATE:
        details += f', {now.status} on {where}'
    elif awaiting_confirmation:
        details += ', not confirmed (--no-confirm)'
    if plan.note:
        details += f'; {plan.note}'
    status = EVACUATED if plan.kind is kinds.EVACUATE else MIGRATED
    return row(plan, status, details, now, record)


def by_another(
    plan: planning.MovePlan,
    record: migrations.Record | None,
    now: model.ServerState,
) -> reporting.ServerResult:
    """The row of a server another request moved (``record``, when its
    record is known), from where it is ``now``.
    """
    before = plan.server
    where = now.hypervisor_hostname or now.compute_host or ''
    by = 'another request'
    if record is not None:
        by += f' (migration {record.id} {record.status}'
        by += f', user {record.user_id})' if record.user_id else ')'
    if now.compute_host == before.compute_host:
        return row(
            plan,
            reporting.SKIPPED,
            f'{plan.kind.label} of {by} left it on {where}',
            record=record,
        )
    if plan.back and now.compute_host != plan.target:
        return row(plan, KEPT, f'kept: moved to {where} by {by}', now, record)
    details = f'{plan.kind.label} by {by}, to {where}'
    if now.status != before.status:
        details += f'; it is {now.status}, it was {before.status}'
    status = EVACUATED if plan.kind is kinds.EVACUATE else MIGRATED
    return row(plan, status, details, now, record)


def unreachable(
    plan: planning.MovePlan,
    error: BaseException,
    sent: bool,
    record: migrations.Record | None,
) -> reporting.ServerResult:
    """The row of a move the run gave up on, Nova not answering."""
    if not sent:
        return row(plan, reporting.NOT_ATTEMPTED, f'not started: {error}')
    where = record.describe() if record else 'no migration record seen'
    return row(
        plan,
        IN_PROGRESS,
        f'{error}; Nova goes on with the move ({where})',
        record=record,
    )


def journaled(
    entry: schema.ServerEntry, result: reporting.ServerResult
) -> schema.ServerEntry:
    """The journal entry of a move, with its row: result, destination
    and migration record (see :mod:`..journal.store`).
    """
    entry = store.with_result(entry, result)
    if entry.move is None or not isinstance(result, MoveResult):
        return entry
    return dataclasses.replace(
        entry,
        move=dataclasses.replace(
            entry.move,
            destination=result.destination_host,
            migration=result.migration,
        ),
    )


def failure_reason(
    compute: _proxy.Proxy,
    retry: retrying.RetryPolicy,
    plan: planning.MovePlan,
) -> str:
    """Why Nova did not move the server: its instance action's error."""
    server_id = plan.server.id
    try:
        actions = [
            action
            for action in retry.call(
                lambda: list(compute.server_actions(server_id))
            )
            if action.action == plan.kind.action
        ]
        if not actions:
            return 'Nova recorded no reason'
        newest = max(actions, key=lambda action: action.start_time or '')
        action = retry.call(
            lambda: compute.get_server_action(newest.request_id, server_id)
        )
    except errors.SERVER_ERRORS as error:
        return f'no reason: {errors.error_text(error)}'
    for event in action.events or []:
        if event.result == 'Error':
            detail = (event.details or '').strip() or 'Error'
            return f'{event.event}: {detail}'
    return action.message or 'Nova recorded no reason'
