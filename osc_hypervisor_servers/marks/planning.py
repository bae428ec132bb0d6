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

"""Planning: the writes each server needs, and nothing more.

A plan is computed from the server as Nova showed it, without any HTTP;
:mod:`.apply` sends it. A server whose plan is empty gets no write at
all.

A change (``set``, ``unset``) writes what differs from the request. An
undo (``restore``) looks at each change a journal holds, and the
server's value now decides:

* it is what the run wrote: put back what was there before;
* it is what was there before (the run never got to it, or it was
  restored already): nothing to do;
* it is anything else: someone changed it since; it is kept, and the
  row says so.

So a tag the server had before the run stays, a tag the run added goes,
a property or description the run removed comes back, one it created
goes.

Every plan then keeps only what Nova would accept: it changes properties
and tags of ACTIVE, PAUSED, SUSPENDED or SHUTOFF servers only, and
properties not while a task is under way (a migration, say), which the
run waits for; a description in any state. A write Nova would refuse is
not sent: the server is ``skipped`` with the rule.
"""

from __future__ import annotations

from collections.abc import Iterable
import dataclasses

from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.marks import change_request
from osc_hypervisor_servers.marks import writes

#: A write Nova would refuse, and the rule.
Refusal = tuple[writes.Write, str]


@dataclasses.dataclass(frozen=True)
class ServerPlan:
    server: model.ServerState
    writes: tuple[writes.Write, ...]
    #: What the plan leaves alone on purpose, and why (for the row).
    notes: tuple[str, ...] = ()
    #: Writes Nova would refuse in the server's state, and the rule.
    refused: tuple[Refusal, ...] = ()

    @property
    def waits(self) -> bool:
        """Whether a task under way must end before the writes."""
        return self.server.task_state is not None and any(
            write.waits_for_tasks for write in self.writes
        )

    @property
    def changes(self) -> tuple[attributes.AttributeChange, ...]:
        return tuple(
            change for write in self.writes for change in write.changes
        )


def plan_change(
    server: model.ServerState, request: change_request.ChangeRequest
) -> ServerPlan:
    """The writes that bring ``server`` to ``request``.

    Mirrors ``openstack server set``/``unset`` for one server, minus every
    call whose effect the listing shows is already there.
    """
    return _admitted(
        server,
        writes.writes_for(
            attributes.AttributeChange(attribute, before, after)
            for attribute, after in request.wanted
            if (before := attribute.value_on(server)) != after
        ),
    )


def _admitted(
    server: model.ServerState,
    planned: Iterable[writes.Write],
    notes: tuple[str, ...] = (),
) -> ServerPlan:
    """The plan of ``planned`` writes that Nova accepts on ``server``."""
    allowed: list[writes.Write] = []
    refused: list[Refusal] = []
    for write in planned:
        problem = write.refusal(server)
        if problem is None:
            allowed.append(write)
        else:
            refused.append((write, problem))
    return ServerPlan(server, tuple(allowed), notes, tuple(refused))


def _show(attribute: attributes.Attribute, value: attributes.Value) -> str:
    if attribute.kind == attributes.DESCRIPTION:
        return 'no description' if value is None else f'description {value!r}'
    if attribute.kind == attributes.PROPERTY:
        if value is None:
            return f'no property {attribute.name}'
        return f'property {attribute.name}={value}'
    return f'tag {attribute.name}'


def plan_undo(
    journaled: Iterable[attributes.AttributeChange],
    server: model.ServerState,
) -> ServerPlan:
    """The writes that undo the ``journaled`` changes on ``server`` as
    it is now.
    """
    undo = []
    notes = []
    for change in journaled:
        now = change.attribute.value_on(server)
        if now == change.before:
            continue
        if now == change.after:
            undo.append(
                attributes.AttributeChange(
                    change.attribute, now, change.before
                )
            )
        else:
            notes.append(
                f'kept {_show(change.attribute, now)}: changed since the run'
            )
    return _admitted(server, writes.writes_for(undo), tuple(notes))
