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

"""``hypervisor servers restore`` of a journal of moves: every server
back where it was, if the run's move still holds.

It reads where each server is now, the run's own migration records when
the journal does not say where one went, and the compute services;
:mod:`.undo` plans each way back without I/O, and the moves run as a
drain's do (:mod:`.runs`), with steps that give the services back their
state of before. It ends when Nova shows the servers home
(:mod:`.endings`).
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses

from osc_hypervisor_servers import version
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.moves import compute_services
from osc_hypervisor_servers.moves import endings
from osc_hypervisor_servers.moves import fitting
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import runs
from osc_hypervisor_servers.moves import undo
from osc_hypervisor_servers.runner import concurrency
from osc_hypervisor_servers.runner import connections
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.selection import listings

REQUIRED_MICROVERSIONS = [(version.MIGRATION_WATCH, 'to follow migrations')]


def _records_of_the_run(
    context: invocation.RunContext,
    document: schema.Document,
    now: dict[str, model.ServerState | None],
    workers: int,
) -> dict[str, migrations.Record | None]:
    """The run's own migration record of each server whose journal does
    not say where it went (a run killed before its end).
    """
    started = migrations.parse_time(document.nova_started_at)
    unknown = [
        entry
        for entry in document.servers
        if entry.move is not None
        and not entry.move.destination
        and now.get(entry.id) is not None
    ]
    found = concurrency.bounded_map(
        lambda entry: undo.drain_record(
            entry,
            migrations.records_of(context.compute, entry.id, context.retry),
            started,
        ),
        unknown,
        workers,
    )
    return dict(zip((entry.id for entry in unknown), found, strict=True))


def _services_now(
    context: invocation.RunContext,
    document: schema.Document,
    workers: int,
) -> dict[str, compute_services.ComputeService | None]:
    hosts = sorted(
        {
            entry.compute_host
            for entry in document.servers
            if entry.compute_host
        }
        | {service.host for service in document.services}
    )
    found = concurrency.bounded_map(
        lambda host: compute_services.find_compute_service(
            context.compute, host, context.retry
        ),
        hosts,
        workers,
    )
    return dict(zip(hosts, found, strict=True))


@dataclasses.dataclass(frozen=True)
class _WayBack:
    """How each server of a journal goes back, and its services."""

    plans: planning.Plans
    #: The services the run changed that are still as it left them.
    to_give_back: list[undo.ServiceUndo]


def _plan(
    context: invocation.RunContext,
    document: schema.Document,
    workers: int,
) -> _WayBack:
    moved = [entry for entry in document.servers if entry.move is not None]
    now = listings.find_by_id(
        context.compute,
        [entry.id for entry in moved],
        context.retry,
        workers,
        hosts=sorted(
            {
                entry.move.destination
                for entry in moved
                if entry.move and entry.move.destination
            }
        ),
    )
    records = _records_of_the_run(context, document, now, workers)
    services = _services_now(context, document, workers)
    undone = [
        undo.ServiceUndo(entry, services.get(entry.host))
        for entry in document.services
    ]
    hosts = undo.services_after(undone, services)
    return _WayBack(
        [
            undo.plan_back(
                entry,
                now[entry.id],
                undo.destination(entry, records.get(entry.id)),
                hosts,
            )
            for entry in moved
        ],
        [u for u in undone if u.holds and u.now is not None],
    )


def _fitted(
    context: invocation.RunContext,
    options: move_options.RestoreOptions,
    way_back: _WayBack,
) -> fitting.Fitted:
    """The pre-flight of a restore: each server against its host of
    before, which may be one whose service the restore enables again.
    """
    enabled_again = {
        undone.entry.host
        for undone in way_back.to_give_back
        if undone.entry.before.status == 'enabled'
    }
    # Placement's disabled trait would hide those hosts.
    return fitting.fit(
        context,
        options.preflight,
        options.run,
        way_back.plans,
        lambda node: (
            node.state == 'up'
            and (node.status == 'enabled' or node.host in enabled_again)
        ),
        skip_disabled=False,
    )


def _document(
    context: invocation.RunContext,
    options: move_options.RestoreOptions,
    document: schema.Document,
    plans: planning.Plans,
    to_give_back: Sequence[undo.ServiceUndo],
) -> schema.Document:
    """The journal of a restore of moves, which undoes it in turn (the
    services it gives back their state of before, the other way round).
    """
    return store.new_document(
        'moves',
        'restore',
        context.endpoint,
        document.hypervisors,
        runs.journal_entries(plans),
        {'journal': options.journal},
        restores=options.journal,
        services=[
            dataclasses.replace(
                undone.entry,
                before=undone.entry.after,
                after=undone.entry.before,
            )
            for undone in to_give_back
        ],
    )


def _giving_back(
    context: invocation.RunContext, to_give_back: Sequence[undo.ServiceUndo]
) -> list[compute_services.SetServiceStatus]:
    """The steps that give each service its state of before."""
    return [
        compute_services.SetServiceStatus(
            context.compute,
            undone.now,
            undone.entry.before.status,
            undone.entry.before.disabled_reason,
            context.retry,
            context.notify,
        )
        for undone in to_give_back
        if undone.now is not None
    ]


def restore(
    context: invocation.RunContext,
    options: move_options.RestoreOptions,
    document: schema.Document,
) -> reporting.Outcome:
    """``hypervisor servers restore`` of a journal of moves."""
    store.check_endpoint(
        document, options.journal, context.endpoint, options.any_endpoint
    )
    errors.refuse_if(version.missing(context.compute, REQUIRED_MICROVERSIONS))
    connections.fit_pool(context.compute, options.run.reads)
    way_back = _plan(context, document, options.run.reads)
    fitted = _fitted(context, options, way_back)
    ran = runs.carry_out(
        context,
        options.run,
        options.waiting,
        fitted.plans,
        _document(
            context, options, document, fitted.plans, way_back.to_give_back
        ),
        _giving_back(context, way_back.to_give_back),
        options.run.parallel
        * len({plan.server.compute_host for plan in fitted.plans}),
        checks=fitted.checks,
    )
    if runs.asks_nova_again(options.waiting, ran.report):
        problem = endings.restore_census(
            context, fitted.plans, ran.report, options.run.reads
        )
    else:
        problem = endings.from_rows(ran.report, back=True)
    return reporting.Outcome(
        ran.report,
        wide=True,
        columns=runs.columns(options.preflight),
        journal=ran.journal.path,
        journal_unrecorded=ran.journal.unrecorded,
        problem=problem,
    )
