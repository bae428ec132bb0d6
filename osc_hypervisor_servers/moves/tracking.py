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

"""What the moves of one run share, and how a move's record is followed.

Used alike for the run's own moves (:mod:`.moving`) and for moves of
another request that a run finds under way (:mod:`.others`).
"""

from __future__ import annotations

from collections.abc import Callable
import dataclasses
import threading
import time

from openstack.compute.v2 import _proxy

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import verdicts
from osc_hypervisor_servers.moves import watching
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.selection import listings

#: How long a server may take to show what its migration record says:
#: Nova saves a cold migration's "finished" before the server shows
#: VERIFY_RESIZE, and its "confirmed" before the server leaves it.
CATCH_UP_SECONDS = 30.0
_READ_PAUSE_SECONDS = 0.5


class Gone(Exception):
    """The server was deleted during the run."""


@dataclasses.dataclass(frozen=True)
class Tracking:
    """What every move of a run shares: Nova, its clock and the watcher."""

    compute: _proxy.Proxy
    retry: retrying.RetryPolicy
    watcher: watching.Watcher
    clock: migrations.NovaClock
    #: The moves are sent at the session's microversion.
    microversion: str

    def read(self, server_id: str) -> model.ServerState:
        """The server as Nova shows it now; Gone when it is deleted."""
        server = listings.read_server(self.compute, server_id, self.retry)
        if server is None:
            raise Gone
        return server

    def act(self, server_id: str, body: dict[str, object]) -> None:
        """POST one server action (see :func:`.migrations.act`)."""
        migrations.act(
            self.compute, self.clock, server_id, body, self.microversion
        )

    def records_of(self, server_id: str) -> list[migrations.Record]:
        """The server's migration records, newest first, which the
        watcher learns too.
        """
        found = migrations.records_of(self.compute, server_id, self.retry)
        self.watcher.learn(found)
        return found


def caught_up(
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


#: The end of a step: the record it waited for, or the row that ends
#: the task (failed, timed out, or in progress after Ctrl-C).
Followed = migrations.Record | reporting.ServerResult


def until(
    tracking: Tracking,
    plan: planning.MovePlan,
    key: watching.MoveKey,
    done: frozenset[str],
    stop: threading.Event,
    deadline: float,
    timeout: float,
) -> Followed:
    """The record of ``key`` once its status is in ``done``, or the row
    that ends the task.
    """
    record = tracking.watcher.wait(key, done, stop, deadline)
    if record is not None and record.status in done:
        return record
    if record is not None and record.status in kinds.FAILED_STATUSES:
        reason = verdicts.failure_reason(
            tracking.compute, tracking.retry, plan
        )
        where = tracking.read(key.server_id).hypervisor_hostname or key.host
        return verdicts.row(
            plan,
            reporting.FAILED,
            f'{record.describe()}: {reason}; still on {where}',
            record=record,
        )
    if stop.is_set():
        return verdicts.interrupted(plan, record)
    where = record.describe() if record else 'no migration record yet'
    return verdicts.row(
        plan,
        reporting.TIMED_OUT,
        f'not done after {timeout:g} s ({where})',
        record=record,
    )
