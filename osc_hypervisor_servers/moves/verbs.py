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

"""``hypervisor servers migrate``, ``evacuate``, and ``restore`` of them.

A drain checks its input and the microversions, finds the servers and
their compute services, plans each server's move without I/O, then hands
the batch to the runner: its steps set the clock by Nova's, journal the
run, and disable the services (when asked); its tasks move the servers,
several per source host at a time. ``--parallel`` is per source host:
Nova runs a few moves per compute at a time and queues the rest, so each
source is kept busy and several are drained side by side; reads are no
moves, and run as many at a time as ``set``'s writes. A drain ends
when its hypervisors are empty: Nova lists them again, and any server
still there makes the exit non-zero.

A restore of a drain's journal is the same machinery the other way: each
server goes back to its host of before, where the drain's move still
holds (:mod:`.undo`).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Sequence
import dataclasses

from osc_hypervisor_servers import version
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.moves import compute_services
from osc_hypervisor_servers.moves import endings
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import moving
from osc_hypervisor_servers.moves import packing
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import preflight
from osc_hypervisor_servers.moves import tracking as tracking_
from osc_hypervisor_servers.moves import undo
from osc_hypervisor_servers.moves import verdicts
from osc_hypervisor_servers.moves import watching
from osc_hypervisor_servers.runner import concurrency
from osc_hypervisor_servers.runner import connections
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import execution
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import pool
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.selection import listings
from osc_hypervisor_servers.selection import lookup
from osc_hypervisor_servers.selection import selector

#: How often a run lists the migrations of each source host.
WATCH_INTERVAL_SECONDS = 1.0

Plans = Sequence[planning.MovePlan | planning.Staying]


def _target_host(
    context: invocation.RunContext,
    reference: str | None,
    sources: Sequence[model.Hypervisor],
) -> str | None:
    if reference is None:
        return None
    target = lookup.find_hypervisor(context.compute, reference, context.retry)
    if target.id in {source.id for source in sources}:
        errors.refuse(
            f'--host {reference}: the target is one of the hypervisors '
            f'being drained'
        )
    if target.host is None:
        errors.refuse(
            f'--host {reference}: hypervisor {target.name} has no compute '
            f'service to move servers to'
        )
    return target.host


def _refuse_moves_between(
    options: move_options.DrainOptions,
    found: Sequence[compute_services.ComputeService],
) -> None:
    """Refuse a drain that could move servers of one hypervisor it
    drains onto another: several sources, one of them open to the
    scheduler, and no target named.
    """
    enabled = [s.host for s in found if s.status != 'disabled']
    if len(found) < 2 or not enabled or options.target:
        return
    if options.mode == 'evacuate' or options.disable_service:
        return
    services = 'service of' if len(enabled) == 1 else 'services of'
    verb = 'is' if len(enabled) == 1 else 'are'
    errors.refuse(
        f'{" and ".join(s.host for s in found)} are drained together, and '
        f'the compute {services} {" and ".join(enabled)} {verb} enabled: '
        f'Nova could move servers from one onto another; give '
        f'--disable-service (or --host)'
    )


def _checked(
    context: invocation.RunContext,
    check: move_options.Preflight,
    run: invocation.RunOptions,
    plans: Plans,
    may_take: Callable[[model.Hypervisor], bool],
    skip_disabled: bool = True,
) -> Plans:
    """``plans`` with the pre-flight's estimate: a server that would not
    fit stays, with the reason; a real run with one is refused before
    its first move, unless it may move only what fits.
    """
    moving = [plan for plan in plans if isinstance(plan, planning.MovePlan)]
    if not (check.check and moving):
        return plans
    facts = preflight.gather(
        context, moving, may_take, run.reads, skip_disabled
    )
    fits = packing.pack(facts.needs, facts.hosts, facts.shapes)
    context.notify(packing.summary(facts.needs, facts.hosts))
    misfits = [plan for plan in moving if not fits[plan.server.id].fits]
    if misfits and not (run.dry_run or check.allow_partial):
        named = '; '.join(
            f'{plan.server.name or plan.server.id}: '
            f'{fits[plan.server.id].text}'
            for plan in misfits[:5]
        )
        more = f' and {len(misfits) - 5} more' if len(misfits) > 5 else ''
        errors.refuse(
            f'{len(misfits)} of {len(moving)} servers would not fit '
            f'({named}{more}); nothing was moved: give --allow-partial to '
            f'move the others, or --skip-preflight to let the scheduler try'
        )
    return [
        plan
        if not isinstance(plan, planning.MovePlan)
        else dataclasses.replace(plan, fit=fits[plan.server.id].text)
        if fits[plan.server.id].fits
        else planning.Staying(
            plan.server,
            f'would not fit: {fits[plan.server.id].text}',
            fit=fits[plan.server.id].text,
        )
        for plan in plans
    ]


def _columns(check: move_options.Preflight) -> tuple[str, ...]:
    if check.check:
        return (*verdicts.COLUMNS, verdicts.PREFLIGHT_COLUMN)
    return verdicts.COLUMNS


def _source_host(task: pool.Task) -> str:
    return task.server.compute_host or ''


def _journal_entries(plans: Plans) -> list[schema.ServerEntry]:
    return [
        schema.ServerEntry.of(
            plan.server, move=schema.MoveEntry(plan.kind.name, plan.target)
        )
        for plan in plans
        if isinstance(plan, planning.MovePlan)
    ]


@dataclasses.dataclass(frozen=True)
class _Run:
    """What every move of one run shares."""

    context: invocation.RunContext
    watcher: watching.Watcher
    clock: migrations.NovaClock = dataclasses.field(
        default_factory=migrations.NovaClock
    )

    def batch(
        self,
        plans: Plans,
        waiting: move_options.Waiting,
        journal: store.WriteAhead,
        services: Iterable[compute_services.SetServiceStatus] = (),
    ) -> execution.Batch:
        """The run's moves, after its clock, its journal and ``services``."""
        tracking = tracking_.Tracking(
            self.context.compute,
            self.context.retry,
            self.watcher,
            self.clock,
            version.negotiated(self.context.compute),
        )
        return execution.Batch(
            tasks=[
                moving.MoveTask(plan, waiting, tracking)
                for plan in plans
                if isinstance(plan, planning.MovePlan)
            ],
            settled=[
                verdicts.staying(plan)
                for plan in plans
                if isinstance(plan, planning.Staying)
            ],
            steps=[
                migrations.LearnNovaTime(
                    self.context.compute, self.clock, self.context.retry
                ),
                journal,
                *services,
            ],
            lane=_source_host,
        )

    def journal(
        self,
        path: str | None,
        document: schema.Document,
    ) -> store.WriteAhead:
        return store.WriteAhead(
            path,
            document,
            record=verdicts.journaled,
            nova_clock=self.clock.now,
        )


def _disabled(
    found: Sequence[compute_services.ComputeService], reason: str | None
) -> list[schema.ServiceEntry]:
    """The journal's entries of the services a drain disables."""
    return [
        schema.ServiceEntry(
            id=service.id,
            host=service.host,
            before=schema.ServiceState(
                service.status, service.disabled_reason
            ),
            after=schema.ServiceState('disabled', reason),
        )
        for service in found
        if service.status != 'disabled'
    ]


def _drain_document(
    context: invocation.RunContext,
    options: move_options.DrainOptions,
    hypervisors: Sequence[model.Hypervisor],
    plans: Plans,
    found: Sequence[compute_services.ComputeService],
) -> schema.Document:
    """The journal of a drain, before its first move."""
    return store.new_document(
        'moves',
        'evacuate' if options.mode == 'evacuate' else 'migrate',
        context.endpoint,
        hypervisors,
        _journal_entries(plans),
        dict(options.selection.to_json(), mode=options.mode),
        services=_disabled(found, options.disable_reason)
        if options.disable_service
        else (),
    )


def _disabling(
    context: invocation.RunContext,
    options: move_options.DrainOptions,
    found: Sequence[compute_services.ComputeService],
) -> list[compute_services.SetServiceStatus]:
    """The steps that disable the services (``--disable-service``)."""
    if not options.disable_service:
        return []
    return [
        compute_services.SetServiceStatus(
            context.compute,
            service,
            'disabled',
            options.disable_reason,
            context.retry,
            context.notify,
        )
        for service in found
    ]


def drain(
    context: invocation.RunContext, options: move_options.DrainOptions
) -> reporting.Outcome:
    """``hypervisor servers migrate`` and ``evacuate``."""
    options.selection.check()
    errors.refuse_if(
        version.missing(
            context.compute,
            [(version.MIGRATION_WATCH, 'to follow migrations')]
            + selector.REQUIRED_MICROVERSIONS,
        )
    )
    reads = options.run.reads
    connections.fit_pool(context.compute, reads)
    selected = selector.select(
        context.compute, options.selection, context.retry, reads
    )
    target = _target_host(context, options.target, selected.hypervisors)
    sources = sorted(
        {h.host for h in selected.hypervisors if h.host is not None}
    )
    found = compute_services.compute_services(
        context.compute, sources, context.retry, reads
    )
    if options.mode == 'evacuate':
        compute_services.require_down(found)
    _refuse_moves_between(options, found)
    plans = _checked(
        context,
        options.preflight,
        options.run,
        planning.plan_moves(selected.servers, options.mode, target),
        lambda node: (
            node.status == 'enabled'
            and node.state == 'up'
            and node.host not in sources
        ),
    )
    ran = _carry_out(
        context,
        options.run,
        options.waiting,
        plans,
        _drain_document(context, options, selected.hypervisors, plans, found),
        _disabling(context, options, found),
        options.run.parallel * len(sources),
    )
    ended = _drain_ended(context, options, selected.hypervisors, ran.report)
    return reporting.Outcome(
        selected.hypervisors,
        ended.report,
        wide=True,
        columns=_columns(options.preflight),
        journal=ran.journal.path,
        journal_unrecorded=ran.journal.unrecorded,
        problem=ended.problem,
    )


def _asks_nova_again(
    run: invocation.RunOptions,
    waiting: move_options.Waiting,
    report: reporting.Report,
) -> bool:
    """Whether the moves are over, so that Nova has the last word."""
    return not (
        run.dry_run
        or not waiting.wait
        or report.interrupted
        or report.abandoned is not None
    )


def _drain_ended(
    context: invocation.RunContext,
    options: move_options.DrainOptions,
    hypervisors: Sequence[model.Hypervisor],
    report: reporting.Report,
) -> endings.Drained:
    if not _asks_nova_again(options.run, options.waiting, report):
        return endings.Drained(
            report,
            endings.from_rows(report, back=False, dry_run=options.run.dry_run),
        )
    hint = (
        ''
        if options.disable_service
        else '; while its compute service is enabled, the scheduler may '
        'place servers there: drain with --disable-service'
    )
    return endings.drain_census(
        context,
        options.selection,
        hypervisors,
        report,
        options.run.reads,
        hint,
    )


@dataclasses.dataclass(frozen=True)
class _Ran:
    report: reporting.Report
    journal: store.WriteAhead


def _carry_out(
    context: invocation.RunContext,
    run: invocation.RunOptions,
    waiting: move_options.Waiting,
    plans: Plans,
    document: schema.Document,
    services: Sequence[compute_services.SetServiceStatus],
    connections_needed: int,
) -> _Ran:
    """Run ``plans`` with one watcher, journaled in ``document``."""
    # Each worker keeps a connection, and so does the watcher.
    connections.fit_pool(context.compute, connections_needed + 1)
    watcher = watching.Watcher(
        context.compute, context.retry, WATCH_INTERVAL_SECONDS
    )
    shared = _Run(context, watcher)
    journal = shared.journal(run.journal, document)
    try:
        report = execution.carry_out(
            shared.batch(plans, waiting, journal, services), run, context
        )
    finally:
        watcher.close()
    return _Ran(report, journal)


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


def _plan_restore(
    context: invocation.RunContext,
    document: schema.Document,
    workers: int,
) -> tuple[Plans, list[undo.ServiceUndo]]:
    """How each server of ``document`` goes back, and its services."""
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
    plans = [
        undo.plan_back(
            entry,
            now[entry.id],
            undo.destination(entry, records.get(entry.id)),
            hosts,
        )
        for entry in moved
    ]
    return plans, undone


def _checked_back(
    context: invocation.RunContext,
    options: move_options.RestoreOptions,
    plans: Plans,
    holding: Iterable[undo.ServiceUndo],
) -> Plans:
    """The pre-flight of a restore: each server against its host of
    before, which may be one whose service the restore enables again.
    """
    enabled_again = {
        undone.entry.host
        for undone in holding
        if undone.entry.before.status == 'enabled'
    }
    # Placement's disabled trait would hide those hosts.
    return _checked(
        context,
        options.preflight,
        options.run,
        plans,
        lambda node: (
            node.state == 'up'
            and (node.status == 'enabled' or node.host in enabled_again)
        ),
        skip_disabled=False,
    )


def _restore_document(
    context: invocation.RunContext,
    options: move_options.RestoreOptions,
    document: schema.Document,
    plans: Plans,
    holding: Iterable[undo.ServiceUndo],
) -> schema.Document:
    """The journal of a restore of moves, which undoes it in turn (the
    services it gives back their state of before, the other way round).
    """
    return store.new_document(
        'moves',
        'restore',
        context.endpoint,
        document.hypervisors,
        _journal_entries(plans),
        {'journal': options.journal},
        restores=options.journal,
        services=[
            dataclasses.replace(
                undone.entry,
                before=undone.entry.after,
                after=undone.entry.before,
            )
            for undone in holding
        ],
    )


def restore(
    context: invocation.RunContext,
    options: move_options.RestoreOptions,
    document: schema.Document,
) -> reporting.Outcome:
    """``hypervisor servers restore`` of a journal of moves: every server
    back where it was, if the run's move still holds.
    """
    store.check_endpoint(
        document, options.journal, context.endpoint, options.any_endpoint
    )
    errors.refuse_if(
        version.missing(
            context.compute,
            [(version.MIGRATION_WATCH, 'to follow migrations')],
        )
    )
    connections.fit_pool(context.compute, options.run.reads)
    plans, undone = _plan_restore(context, document, options.run.reads)
    holding = [u for u in undone if u.holds and u.now is not None]
    plans = _checked_back(context, options, plans, holding)
    ran = _carry_out(
        context,
        options.run,
        options.waiting,
        plans,
        _restore_document(context, options, document, plans, holding),
        [
            compute_services.SetServiceStatus(
                context.compute,
                undone.now,
                undone.entry.before.status,
                undone.entry.before.disabled_reason,
                context.retry,
                context.notify,
            )
            for undone in holding
            if undone.now is not None
        ],
        options.run.parallel * len({p.server.compute_host for p in plans}),
    )
    return reporting.Outcome(
        list(document.hypervisors),
        ran.report,
        wide=True,
        columns=_columns(options.preflight),
        journal=ran.journal.path,
        journal_unrecorded=ran.journal.unrecorded,
        problem=endings.restore_census(
            context, plans, ran.report, options.run.reads
        )
        if _asks_nova_again(options.run, options.waiting, ran.report)
        else endings.from_rows(
            ran.report, back=True, dry_run=options.run.dry_run
        ),
    )
