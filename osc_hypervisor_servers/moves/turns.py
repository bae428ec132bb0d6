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

"""The moves of one turn of ``maintain``: drain its hosts, check that
they are ready for the command, give them back.

A turn's drain is ``migrate --disable-service`` of its hosts, journaled
in a file of its own that the run's journal names before the drain
starts; its return is the restore of its drains (every drain of the
turn as one journal: a resumed drain adds one), so the rules of
``restore`` hold: only servers still where a drain put them go back,
only services still as a drain left them are enabled again.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import dataclasses
import os

from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.moves import compute_services
from osc_hypervisor_servers.moves import drain
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import restore
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import pool
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.selection import listings
from osc_hypervisor_servers.selection import selector

#: The disabled reason of the services ``maintain`` disables.
DISABLED_REASON = 'hypervisor servers maintain'

#: The column of a ``maintain`` row that says which part of a turn it
#: is from: ``drain``, ``return`` (its servers home once it is back) or
#: ``give back`` (a host skipped: what left it goes back).
PHASE_COLUMN = 'Phase'


@dataclasses.dataclass(frozen=True)
class PhaseResult(reporting.ServerResult):
    """A row of a turn's drain or return, with the phase it is from."""

    phase: str = ''
    row: reporting.ServerResult | None = None

    def columns(self) -> Mapping[str, str]:
        own = {} if self.row is None else dict(self.row.columns())
        return {PHASE_COLUMN: self.phase, **own}


def in_phase(
    phase: str, results: Sequence[reporting.ServerResult]
) -> list[reporting.ServerResult]:
    return [
        PhaseResult(row.server, row.status, row.details, phase=phase, row=row)
        for row in results
    ]


@dataclasses.dataclass(frozen=True)
class Ran:
    """What one drain or return of a turn did."""

    outcome: reporting.Outcome
    rows: list[reporting.ServerResult]

    @property
    def stopped(self) -> bool:
        """Ctrl-C, or Nova stopped answering: the run cannot go on."""
        report = self.outcome.report
        return report.interrupted or report.abandoned is not None


def _staged(
    context: invocation.RunContext, stage: str
) -> invocation.RunContext:
    progress = context.progress
    if progress is None:
        return context

    def staged(tally: pool.Tally) -> None:
        progress(dataclasses.replace(tally, stage=stage))

    return dataclasses.replace(context, progress=staged)


def drain_turn(
    context: invocation.RunContext,
    options: move_options.MaintainOptions,
    turn: schema.Turn,
    journal: str | None,
    stage: str,
) -> Ran:
    """Drain the hosts of ``turn`` (a dry run when ``journal`` is None)
    as ``migrate --disable-service`` does; raises ``Refused`` when the
    drain is refused before it changes anything.
    """
    drain_options = move_options.DrainOptions(
        selector.Selection(hypervisors=tuple(h.id for h in turn.hypervisors)),
        options.mode,
        options.waiting,
        dataclasses.replace(
            options.run, journal=journal, dry_run=journal is None
        ),
        disable_service=True,
        disable_reason=DISABLED_REASON,
        preflight=move_options.Preflight(may_relax=False),
    )
    outcome = drain.drain(_staged(context, stage), drain_options)
    return Ran(outcome, in_phase('drain', outcome.report.results))


def not_ready(
    context: invocation.RunContext,
    options: move_options.MaintainOptions,
    turn: schema.Turn,
) -> str | None:
    """Why the hosts of ``turn`` may not be handed to the command, as
    Nova shows them now: a server on one, or its service enabled.
    """
    there = listings.list_servers(
        context.compute,
        turn.hypervisors,
        context.retry,
        workers=options.run.reads,
    )
    if there:
        places = sorted({server.hypervisor_hostname or '' for server in there})
        return f'{len(there)} servers are still on {" and ".join(places)}'
    for hypervisor in turn.hypervisors:
        service = compute_services.compute_service(
            context.compute, hypervisor.host or '', context.retry
        )
        if service.status != 'disabled':
            return f'the compute service of {service.host} is enabled'
    return None


def _drains(turn: schema.Turn) -> list[schema.Document]:
    """The turn's drain journals that were written (a drain refused, or
    killed before its first write, left none).
    """
    return [store.read(path) for path in turn.drains if os.path.exists(path)]


def combined(
    documents: Sequence[schema.Document], servers: bool = True
) -> schema.Document:
    """The drains ``documents`` (of the same hypervisors, in order) as one
    journal to restore: each server once, where a drain says it went when
    one does; each service as the first drain that changed it left it.
    """
    entries: dict[str, schema.ServerEntry] = {}
    for document in documents:
        for entry in document.servers:
            known = entries.get(entry.id)
            if known is None or not (known.move and known.move.destination):
                entries[entry.id] = entry
    services: dict[str, schema.ServiceEntry] = {}
    for document in documents:
        for service in document.services:
            services.setdefault(service.host, service)
    started = [d.nova_started_at for d in documents if d.nova_started_at]
    return dataclasses.replace(
        documents[0],
        servers=tuple(entries.values()) if servers else (),
        services=tuple(services.values()),
        nova_started_at=min(started) if started else None,
    )


@dataclasses.dataclass(frozen=True)
class GiveBack:
    """How a turn's drains are undone."""

    #: The journal of the ``maintain`` run (what the restore restores).
    run_journal: str
    waiting: move_options.Waiting
    run: invocation.RunOptions
    #: Which rows these are: ``return`` or ``give back``.
    phase: str
    #: False: only the services (``--no-return``).
    servers: bool = True


def give_back(
    context: invocation.RunContext,
    turn: schema.Turn,
    how: GiveBack,
    stage: str,
) -> Ran | None:
    """Restore the drains of ``turn``, journaled as ``how.run`` says;
    None when no drain of the turn changed anything.
    """
    documents = _drains(turn)
    if not documents:
        return None
    outcome = restore.restore(
        _staged(context, stage),
        move_options.RestoreOptions(how.run_journal, how.waiting, how.run),
        combined(documents, servers=how.servers),
    )
    return Ran(outcome, in_phase(how.phase, outcome.report.results))
