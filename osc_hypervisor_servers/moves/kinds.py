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

"""The three ways a server leaves its hypervisor, as Nova knows them.

The states Nova allows for each move (nova.compute.api): a live
migration needs ACTIVE or PAUSED, a cold migration ACTIVE or SHUTOFF
(stopped), an evacuation ACTIVE, SHUTOFF or ERROR; none may have a task
under way.
"""

from __future__ import annotations

import dataclasses
import typing

from osc_hypervisor_servers.journal import schema

#: ``auto``: live when the server runs, cold when it is stopped.
Mode = typing.Literal['auto', 'live', 'cold', 'evacuate']

#: Record statuses after which Nova does no more for the move.
FAILED_STATUSES = frozenset({'error', 'failed', 'cancelled'})
#: A cold migration waiting for confirmation (VERIFY_RESIZE), confirmed.
COLD_FINISHED = frozenset({'finished'})
COLD_CONFIRMED = frozenset({'confirmed'})


@dataclasses.dataclass(frozen=True)
class MoveKind:
    #: Its mode's name, and the journal's.
    name: schema.MoveKindName
    #: What rows and messages call it.
    label: str
    #: The server states Nova allows it from.
    allowed_from: frozenset[str]
    #: ``migration_type`` of its records in ``/os-migrations``.
    migration_type: str
    #: Record statuses once Nova's part of the move is done.
    done_statuses: frozenset[str]
    #: Its instance action, where Nova records why it failed.
    action: str

    def body(self, target: str | None) -> dict[str, object]:
        """The server action that starts it, to ``target`` (None: the
        scheduler picks).
        """
        if self is LIVE:
            return {
                'os-migrateLive': {'host': target, 'block_migration': 'auto'}
            }
        if self is COLD:
            return {'migrate': {'host': target} if target else None}
        return {'evacuate': {'host': target} if target else {}}


LIVE = MoveKind(
    name='live',
    label='live migration',
    allowed_from=frozenset({'ACTIVE', 'PAUSED'}),
    migration_type='live-migration',
    done_statuses=frozenset({'completed'}),
    action='live-migration',
)
COLD = MoveKind(
    name='cold',
    label='cold migration',
    allowed_from=frozenset({'ACTIVE', 'SHUTOFF'}),
    migration_type='migration',
    done_statuses=COLD_FINISHED,
    action='migrate',
)
#: ``completed`` once the source compute restarts.
EVACUATE = MoveKind(
    name='evacuate',
    label='evacuation',
    allowed_from=frozenset({'ACTIVE', 'SHUTOFF', 'ERROR'}),
    migration_type='evacuation',
    done_statuses=frozenset({'done', 'completed'}),
    action='evacuate',
)

BY_MODE: dict[Mode, MoveKind] = {
    'live': LIVE,
    'cold': COLD,
    'evacuate': EVACUATE,
}
BY_NAME: dict[str, MoveKind] = {kind.name: kind for kind in BY_MODE.values()}
#: A move under way, by the server's task state (nova.compute.
#: task_states): how another request is moving it. A plain rebuild
#: shows REBUILDING too, but has no migration record.
BY_TASK_STATE: dict[str, MoveKind] = {
    'migrating': LIVE,
    'resize_prep': COLD,
    'resize_migrating': COLD,
    'resize_migrated': COLD,
    'resize_finish': COLD,
    'rebuilding': EVACUATE,
    'rebuild_block_device_mapping': EVACUATE,
    'rebuild_spawning': EVACUATE,
}
#: The migration types of each kind's records: a resize moves like a
#: cold migration.
MIGRATION_TYPES: dict[MoveKind, frozenset[str]] = {
    LIVE: frozenset({'live-migration'}),
    COLD: frozenset({'migration', 'resize'}),
    EVACUATE: frozenset({'evacuation'}),
}
#: Record statuses after which a move is over, one way or another.
FINAL_STATUSES = FAILED_STATUSES | frozenset(
    {'completed', 'confirmed', 'done', 'reverted'}
)
