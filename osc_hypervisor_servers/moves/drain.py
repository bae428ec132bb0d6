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

"""``hypervisor servers migrate`` and ``evacuate``: a drain.

A drain checks its input and the microversions, finds the servers and
their compute services, plans each server's move without I/O, checks
that they fit (:mod:`.fitting`), then runs the moves (:mod:`.runs`):
journaled, the services disabled when asked, several per source host at
a time. ``--parallel`` is per source host: Nova runs a few moves per
compute at a time and queues the rest, so each source is kept busy and
several are drained side by side; reads are no moves, and run as many
at a time as ``set``'s writes. A drain ends when its hypervisors are
empty, as Nova lists them (:mod:`.endings`).
"""

from __future__ import annotations

from collections.abc import Sequence

from osc_hypervisor_servers import version
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.moves import compute_services
from osc_hypervisor_servers.moves import endings
from osc_hypervisor_servers.moves import fitting
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import runs
from osc_hypervisor_servers.runner import connections
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.selection import lookup
from osc_hypervisor_servers.selection import selector

REQUIRED_MICROVERSIONS = [
    (version.MIGRATION_WATCH, 'to follow migrations'),
    *selector.REQUIRED_MICROVERSIONS,
]


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


def _document(
    context: invocation.RunContext,
    options: move_options.DrainOptions,
    hypervisors: Sequence[model.Hypervisor],
    plans: planning.Plans,
    found: Sequence[compute_services.ComputeService],
) -> schema.Document:
    """The journal of a drain, before its first move."""
    return store.new_document(
        'moves',
        'evacuate' if options.mode == 'evacuate' else 'migrate',
        context.endpoint,
        hypervisors,
        runs.journal_entries(plans),
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
    errors.refuse_if(version.missing(context.compute, REQUIRED_MICROVERSIONS))
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
    fitted = fitting.fit(
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
    ran = runs.carry_out(
        context,
        options.run,
        options.waiting,
        fitted.plans,
        _document(context, options, selected.hypervisors, fitted.plans, found),
        _disabling(context, options, found),
        options.run.parallel * len(sources),
        checks=fitted.checks,
    )
    ended = _ended(context, options, selected.hypervisors, ran.report)
    return reporting.Outcome(
        ended.report,
        wide=True,
        columns=runs.columns(options.preflight),
        journal=ran.journal.path,
        journal_unrecorded=ran.journal.unrecorded,
        problem=ended.problem,
    )


def _ended(
    context: invocation.RunContext,
    options: move_options.DrainOptions,
    hypervisors: Sequence[model.Hypervisor],
    report: reporting.Report,
) -> endings.Drained:
    """The drain's end: Nova's listing of its hypervisors, once the
    moves are over; else what the rows say.
    """
    if not runs.asks_nova_again(options.waiting, report):
        return endings.Drained(report, endings.from_rows(report, back=False))
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
