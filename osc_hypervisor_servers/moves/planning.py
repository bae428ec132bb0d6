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

"""Planning a drain: how each server leaves its hypervisor, or why not.

Computed from the listing alone, without I/O, like every plan: the
dry-run shows exactly what a real run would do. A server another
request is moving already (a second operator, a killed run's queued
move) is followed, not moved again.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.runner import reporting


@dataclasses.dataclass(frozen=True)
class MovePlan:
    """How a server leaves its hypervisor."""

    server: model.ServerState
    kind: kinds.MoveKind
    #: The compute host to move to; None: the scheduler picks.
    target: str | None = None
    #: What the row adds once the server moved.
    note: str = ''
    #: The pre-flight's estimate: fits (on how many hosts), or why not.
    fit: str = ''
    #: Another request is moving the server already (its task state):
    #: the run follows that move and sends none of its own.
    underway: bool = False
    #: A restore's move: the server is back only on ``target``.
    back: bool = False


@dataclasses.dataclass(frozen=True)
class StayPlan:
    """A server that stays where it is, and why."""

    server: model.ServerState
    reason: str
    #: Its row's: SKIPPED when it should have moved.
    status: reporting.Status = reporting.SKIPPED
    fit: str = ''


#: A run's plans: one per server.
Plans = Sequence[MovePlan | StayPlan]


def _kind_for(status: str, mode: kinds.Mode) -> kinds.MoveKind | None:
    if mode == 'auto':
        if status in kinds.LIVE.allowed_from:
            return kinds.LIVE
        if status == 'SHUTOFF':
            return kinds.COLD
        return None
    kind = kinds.BY_MODE[mode]
    return kind if status in kind.allowed_from else None


def _why_not(status: str, mode: kinds.Mode) -> str:
    if mode == 'auto':
        return (
            f'{status}: only ACTIVE or PAUSED servers are live migrated '
            f'and SHUTOFF ones cold migrated'
        )
    kind = kinds.BY_MODE[mode]
    allowed = ' or '.join(sorted(kind.allowed_from))
    return f'{status}: a {kind.label} needs {allowed}'


def plan_move(
    server: model.ServerState, mode: kinds.Mode, target: str | None
) -> MovePlan | StayPlan:
    if server.task_state is not None:
        underway = kinds.BY_TASK_STATE.get(server.task_state)
        if underway is None:
            return StayPlan(
                server,
                f'{server.status}: task {server.task_state} in progress',
            )
        return MovePlan(server, underway, target=target, underway=True)
    kind = _kind_for(server.status, mode)
    if kind is None:
        return StayPlan(server, _why_not(server.status, mode))
    return MovePlan(server, kind, target=target)


def plan_moves(
    servers: Sequence[model.ServerState],
    mode: kinds.Mode,
    target: str | None = None,
) -> list[MovePlan | StayPlan]:
    return [plan_move(server, mode, target) for server in servers]
