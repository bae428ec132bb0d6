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

"""A server that another request is moving, or moved since the listing.

Another operator draining the same host, a second restore, a killed
run's queued move: Nova refuses a second move of a server that has one
under way (409 "task_state migrating", or 500 UnexpectedTaskStateError
in a race), and a server moved since the listing must not be moved
again. Neither is the run's failure. The other move is followed through
its migration record to its end, as the run's own moves are, and judged
by where the server ends: off the drained host (``migrated`` by another
request), back home for a restore, or still there. A cold migration is
never confirmed for another request: its owner does that.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
import time

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import tracking as tracking_
from osc_hypervisor_servers.moves import verdicts
from osc_hypervisor_servers.moves import watching
from osc_hypervisor_servers.runner import reporting

#: How long the record of a move seen under way may take to appear:
#: Nova's conductor creates it after the API set the task state.
RECORD_GRACE_SECONDS = 15.0


def _in_progress(
    records: list[migrations.Record], kind: kinds.MoveKind
) -> migrations.Record | None:
    """The newest record of a move of ``kind`` not over yet."""
    for record in records:
        if (
            record.migration_type in kinds.MIGRATION_TYPES[kind]
            and record.status not in kinds.FINAL_STATUSES
        ):
            return record
    return None


def _that_moved_it(
    records: list[migrations.Record], now: model.ServerState
) -> migrations.Record | None:
    """The newest record of a move to where the server is now."""
    for record in records:
        if record.dest_compute == now.compute_host:
            return record
    return None


def take_over(
    tracking: tracking_.Tracking,
    plan: planning.MovePlan,
    timeout: float,
    stop: threading.Event,
    deadline: float,
    now: model.ServerState | None = None,
) -> reporting.ServerResult | None:
    """The row of ``plan``'s server once another request's move of it
    ended; None when no move of another holds it (it is on its source
    with no task: the run may send its own).
    """
    server = plan.server
    now = now or tracking.read(server.id)
    if now.task_state is None:
        if now.compute_host == server.compute_host:
            return None
        moved = _that_moved_it(tracking.records_of(server.id), now)
        return verdicts.by_another(plan, moved, now)
    kind = kinds.BY_TASK_STATE.get(now.task_state)
    key = None
    if kind is not None:
        key = _key_of(tracking, kind, now, stop, deadline)
    if kind is None or key is None:
        return reporting.ServerResult(
            server,
            reporting.SKIPPED,
            f'{now.status}: task {now.task_state} in progress'
            + ('' if kind is None else ', with no migration record'),
        )
    other = dataclasses.replace(plan, kind=kind, underway=True)
    ended = _follow(tracking, other, key, timeout, stop, deadline)
    if isinstance(ended, reporting.ServerResult):
        return dataclasses.replace(
            ended, details=f'{kind.label} by another request: {ended.details}'
        )
    shown = tracking_.caught_up(
        functools.partial(tracking.read, server.id),
        lambda server: server.task_state is None,
        stop,
        deadline,
    )
    return verdicts.by_another(other, ended, shown)


def _key_of(
    tracking: tracking_.Tracking,
    kind: kinds.MoveKind,
    now: model.ServerState,
    stop: threading.Event,
    deadline: float,
) -> watching.MoveKey | None:
    """Which record the other move has; None if none comes."""
    record = _in_progress(tracking.records_of(now.id), kind)
    if record is not None:
        return watching.MoveKey(
            record.source_compute or '',
            now.id,
            record.migration_type,
            record.created_at,
        )
    # Its record comes after the task state, so after this read.
    key = watching.MoveKey(
        now.compute_host or '',
        now.id,
        kind.migration_type,
        tracking.clock.now() - migrations.CLOCK_SLACK,
    )
    grace = min(deadline, time.monotonic() + RECORD_GRACE_SECONDS)
    if tracking.watcher.wait(key, None, stop, grace) is None:
        return None
    return key


def _follow(
    tracking: tracking_.Tracking,
    other: planning.MovePlan,
    key: watching.MoveKey,
    timeout: float,
    stop: threading.Event,
    deadline: float,
) -> tracking_.Followed:
    """The other move's record once Nova's part of it is done (for a
    cold migration, confirmed by its owner if that comes soon).
    """
    ended = tracking_.until(
        tracking,
        other,
        key,
        other.kind.done_statuses,
        stop,
        deadline,
        timeout,
    )
    if isinstance(ended, migrations.Record) and other.kind is kinds.COLD:
        soon = min(deadline, time.monotonic() + tracking_.CATCH_UP_SECONDS)
        confirmed = tracking.watcher.wait(
            key, kinds.COLD_CONFIRMED, stop, soon
        )
        ended = confirmed or ended
    return ended
