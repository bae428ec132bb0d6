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
dry-run shows exactly what a real run would do. The states Nova allows
for each move (nova.compute.api): a live migration needs ACTIVE or
PAUSED, a cold migration ACTIVE or SHUTOFF (stopped), an evacuation
ACTIVE, SHUTOFF or ERROR; none may have a task under way.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
import typing

from osc_hypervisor_servers import servers as servers_module

Kind = typing.Literal['live', 'cold', 'evacuate']
#: ``auto``: live when the server runs, cold when it is stopped.
Mode = typing.Literal['auto', 'live', 'cold', 'evacuate']

LIVE: Kind = 'live'
COLD: Kind = 'cold'
EVACUATE: Kind = 'evacuate'

#: What each kind is called in rows and messages.
DESCRIPTION: dict[Kind, str] = {
    LIVE: 'live migration',
    COLD: 'cold migration',
    EVACUATE: 'evacuation',
}

_ALLOWED: dict[Kind, frozenset[str]] = {
    LIVE: frozenset({'ACTIVE', 'PAUSED'}),
    COLD: frozenset({'ACTIVE', 'SHUTOFF'}),
    EVACUATE: frozenset({'ACTIVE', 'SHUTOFF', 'ERROR'}),
}


@dataclasses.dataclass(frozen=True)
class MovePlan:
    server: servers_module.ServerState
    #: How the server moves; None: it stays, for ``reason``.
    kind: Kind | None
    reason: str = ''
    #: The compute host to move to; None: the scheduler picks.
    target: str | None = None


def _kind_for(status: str, mode: Mode) -> Kind | None:
    if mode == 'auto':
        if status in _ALLOWED[LIVE]:
            return LIVE
        if status == 'SHUTOFF':
            return COLD
        return None
    return mode if status in _ALLOWED[mode] else None


def _why_not(status: str, mode: Mode) -> str:
    if mode == 'auto':
        return (
            f'{status}: only ACTIVE or PAUSED servers are live migrated '
            f'and SHUTOFF ones cold migrated'
        )
    allowed = ' or '.join(sorted(_ALLOWED[mode]))
    return f'{status}: a {DESCRIPTION[mode]} needs {allowed}'


def plan_move(
    server: servers_module.ServerState, mode: Mode, target: str | None
) -> MovePlan:
    if server.task_state is not None:
        return MovePlan(
            server,
            None,
            f'{server.status}: task {server.task_state} in progress',
        )
    kind = _kind_for(server.status, mode)
    if kind is None:
        return MovePlan(server, None, _why_not(server.status, mode))
    return MovePlan(server, kind, target=target)


def plan_moves(
    servers: Sequence[servers_module.ServerState],
    mode: Mode,
    target: str | None = None,
) -> list[MovePlan]:
    return [plan_move(server, mode, target) for server in servers]
