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

"""``hypervisor servers migrate`` and ``evacuate``: drain hypervisors.

A drain checks its input and the microversions, finds the servers and
their compute services, plans each server's move without I/O, then hands
the batch to the runner: its steps disable the services (when asked) and
set the clock by Nova's; its tasks move the servers, several per source
host at a time. ``--parallel`` is per source host: Nova runs a few moves
per compute at a time and queues the rest, so each source is kept busy
and several are drained side by side.
"""

from __future__ import annotations

from collections.abc import Sequence

from osc_hypervisor_servers import version
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import compute_services
from osc_hypervisor_servers.moves import drain_options
from osc_hypervisor_servers.moves import judging
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import moving
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import watching
from osc_hypervisor_servers.runner import connections
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import execution
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import pool
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.selection import lookup
from osc_hypervisor_servers.selection import selector

#: How often a drain lists the migrations of each source host.
WATCH_INTERVAL_SECONDS = 1.0


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


def _still_there(report: reporting.Report, dry_run: bool) -> str | None:
    staying: dict[str, int] = {}
    for result in report.results:
        if not result.status.ok:
            host = result.server.hypervisor_hostname or ''
            staying[host] = staying.get(host, 0) + 1
    if not staying:
        return None
    count = sum(staying.values())
    verb = 'would stay' if dry_run else 'are still'
    where = ', '.join(f'{n} on {host}' for host, n in sorted(staying.items()))
    if len(staying) == 1:
        where = f'on {next(iter(staying))}'
    return f'{count} of {len(report.results)} servers {verb} {where}'


def _source_host(task: pool.Task) -> str:
    return task.server.compute_host or ''


def _batch(
    context: invocation.RunContext,
    options: drain_options.DrainOptions,
    plans: Sequence[planning.MovePlan | planning.Staying],
    found: Sequence[compute_services.ComputeService],
    watcher: watching.Watcher,
) -> execution.Batch:
    steps: list[execution.Step] = []
    if options.disable_service:
        steps += [
            compute_services.DisableService(
                context.compute,
                service,
                options.disable_reason,
                context.retry,
                context.notify,
            )
            for service in found
        ]
    clock = migrations.NovaClock()
    steps.append(migrations.LearnNovaTime(context.compute, clock))
    tracking = moving.Tracking(
        context.compute,
        context.retry,
        watcher,
        clock,
        version.negotiated(context.compute),
    )
    return execution.Batch(
        tasks=[
            moving.MoveTask(plan, options.waiting, tracking)
            for plan in plans
            if isinstance(plan, planning.MovePlan)
        ],
        settled=[
            judging.staying(plan)
            for plan in plans
            if isinstance(plan, planning.Staying)
        ],
        steps=steps,
        lane=_source_host,
    )


def drain(
    context: invocation.RunContext, options: drain_options.DrainOptions
) -> reporting.Outcome:
    """``hypervisor servers migrate`` and ``evacuate``."""
    options.selection.check()
    version.require(
        context.compute,
        [(version.MIGRATION_WATCH, 'to follow migrations')]
        + selector.REQUIRED_MICROVERSIONS,
    )
    parallel = options.run.parallel
    selected = selector.select(
        context.compute, options.selection, context.retry, parallel
    )
    target = _target_host(context, options.target, selected.hypervisors)
    sources = sorted(
        {h.host for h in selected.hypervisors if h.host is not None}
    )
    found = compute_services.compute_services(
        context.compute, sources, context.retry, parallel
    )
    if options.mode == 'evacuate':
        compute_services.require_down(found)
    plans = planning.plan_moves(selected.servers, options.mode, target)
    # Each worker keeps a connection, and so does the watcher.
    connections.fit_pool(context.compute, parallel * len(sources) + 1)
    watcher = watching.Watcher(
        context.compute, context.retry, WATCH_INTERVAL_SECONDS
    )
    try:
        report = execution.carry_out(
            _batch(context, options, plans, found, watcher),
            options.run,
            context,
        )
    finally:
        watcher.close()
    return reporting.Outcome(
        selected.hypervisors,
        report,
        wide=True,
        problem=_still_there(report, options.run.dry_run),
    )
