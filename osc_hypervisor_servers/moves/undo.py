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

"""Planning the undo of a drain: each server back where it was, if the
drain's move still holds.

Like every plan, this needs no I/O: it reads the journal, the server as
Nova shows it now, the drain's own migration record when the journal
has no destination (a run killed before its end), and the compute
services of the hosts the servers go back to. For each server of the
journal:

* gone: nothing to do (``gone``);
* on its host of before: nothing to do (``unchanged``);
* on the host the drain moved it to: it goes back, by live migration
  when it runs and by cold migration when it is stopped, to the named
  host, which the scheduler checks; its power state is not changed;
* anywhere else: someone moved it since; it is left there (``kept``);
* a move under way there (a killed restore's move back, another
  restore's): followed to its end, not sent again;
* another task under way, a state no move allows, or a host that cannot
  take it back: ``skipped``, with the reason.

Compute services follow the same rule: one the run changed, still as the
run left it, is given back its status of before (a drain's disabled
service is enabled again); one changed since is left alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
import dataclasses
import datetime

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.moves import compute_services
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import verdicts
from osc_hypervisor_servers.runner import reporting


def _as_state(
    service: compute_services.ComputeService,
) -> schema.ServiceState:
    return schema.ServiceState(service.status, service.disabled_reason)


@dataclasses.dataclass(frozen=True)
class ServiceUndo:
    """A compute service the run changed, and what to do with it now."""

    entry: schema.ServiceEntry
    #: The service as Nova shows it now; None when it is gone.
    now: compute_services.ComputeService | None

    @property
    def holds(self) -> bool:
        """Whether the service is still as the run left it."""
        return self.now is not None and _as_state(self.now) == self.entry.after


def services_after(
    undone: Iterable[ServiceUndo],
    now: Mapping[str, compute_services.ComputeService | None],
) -> dict[str, compute_services.ComputeService | None]:
    """The services of ``now`` as they will be once ``undone`` are put
    back (the services that still hold what the run did).
    """
    after = dict(now)
    for undo in undone:
        if undo.holds and undo.now is not None:
            before = undo.entry.before
            after[undo.now.host] = dataclasses.replace(
                undo.now,
                status=before.status,
                disabled_reason=before.disabled_reason,
            )
    return after


def drain_record(
    entry: schema.ServerEntry,
    records: Iterable[migrations.Record],
    started: datetime.datetime | None,
) -> migrations.Record | None:
    """The record of the run's own move of ``entry``'s server: the one
    the journal names, else the first of its kind from its host of
    before since the run started.
    """
    if entry.move is None:
        return None
    kind = kinds.BY_NAME[entry.move.kind]
    found = sorted(records, key=lambda record: (record.created_at, record.id))
    for record in found:
        if entry.move.migration is not None:
            if record.id == entry.move.migration:
                return record
            continue
        if (
            started is not None
            and record.is_of(
                entry.id, kind.migration_type, started - migrations.CLOCK_SLACK
            )
            and record.source_compute == entry.compute_host
        ):
            return record
    return None


def destination(
    entry: schema.ServerEntry, record: migrations.Record | None
) -> str | None:
    """Where the run moved the server, from its journal or its record."""
    if entry.move is not None and entry.move.destination:
        return entry.move.destination
    if record is None or record.status in kinds.FAILED_STATUSES:
        return None
    return record.dest_compute


def plan_back(
    entry: schema.ServerEntry,
    now: model.ServerState | None,
    moved_to: str | None,
    hosts: Mapping[str, compute_services.ComputeService | None],
) -> planning.MovePlan | planning.StayPlan:
    """How ``entry``'s server goes back to its host of before, if it
    does; ``moved_to`` is where the run moved it, ``hosts`` the services
    of the hosts as they will be.
    """
    origin = entry.compute_host or ''
    if now is None:
        return planning.StayPlan(
            entry.server(), 'the server no longer exists', reporting.GONE
        )
    project_problem = entry.project_problem(now)
    if project_problem is not None:
        return planning.StayPlan(now, project_problem)
    if now.compute_host == origin:
        return planning.StayPlan(
            now, f'already on {origin}', reporting.UNCHANGED
        )
    if moved_to is None or now.compute_host != moved_to:
        why = 'moved since the run' if moved_to else 'not moved by the run'
        return planning.StayPlan(
            now, f'kept: now on {now.compute_host}, {why}', verdicts.KEPT
        )
    problem = compute_services.usable(hosts.get(origin), origin)
    if problem is not None:
        return planning.StayPlan(now, f'not moved back: {problem}')
    plan = planning.plan_move(now, 'auto', target=origin)
    if not isinstance(plan, planning.MovePlan):
        return plan
    note = ''
    if now.status != entry.status:
        note = f'it was {entry.status} before the run'
    return dataclasses.replace(plan, note=note, back=True)
