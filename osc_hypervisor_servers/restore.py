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


"""Planning a restore: each journaled change undone where it still holds.

For every change a run journaled, the server's value now decides:

* it is what the run wrote: put back what was there before;
* it is what was there before (the run never got to it, or it was
  restored already): nothing to do;
* it is anything else: someone changed it since; it is kept, and the
  row says so.

So a tag the server had before the run stays, a tag the run added goes,
a property or description the run removed comes back, one it created
goes. Like every plan, this needs no I/O.
"""

from __future__ import annotations

from osc_hypervisor_servers import attributes
from osc_hypervisor_servers import executor
from osc_hypervisor_servers import journal
from osc_hypervisor_servers import plan as plan_module
from osc_hypervisor_servers import servers

#: A server of the journal that no longer exists: nothing to put back.
GONE = executor.Status('gone', ok=True)


def _show(attribute: attributes.Attribute, value: attributes.Value) -> str:
    if attribute.kind == attributes.DESCRIPTION:
        return 'no description' if value is None else f'description {value!r}'
    if attribute.kind == attributes.PROPERTY:
        if value is None:
            return f'no property {attribute.name}'
        return f'property {attribute.name}={value}'
    return f'tag {attribute.name}'


def plan_server(
    entry: journal.ServerEntry, server: servers.ServerState
) -> plan_module.ServerPlan:
    """The calls that undo ``entry``'s changes on ``server`` as it is."""
    undo = []
    notes = []
    for change in entry.changes:
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
    return plan_module.ServerPlan(
        server, plan_module.calls_for(undo), tuple(notes)
    )


def gone(entry: journal.ServerEntry) -> executor.ServerResult:
    """The row of a journaled server that no longer exists."""
    return executor.ServerResult(
        servers.ServerState(
            id=entry.id,
            name=entry.name,
            project_id=entry.project_id,
            hypervisor_hostname=entry.hypervisor_hostname,
            compute_host=None,
            status='',
            task_state=None,
            metadata={},
            tags=frozenset(),
            description=None,
        ),
        GONE,
        'the server no longer exists',
    )
