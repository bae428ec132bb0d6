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


"""What each verb does, from checked input to its report.

Every verb runs the same steps: check the input and the microversions,
select the servers (:mod:`selection`), plan each one without I/O, then
preview the plans or run them (:mod:`executor`). Every check comes
before the first write; a run that writes journals what it replaces
first (:mod:`journal`).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import dataclasses
import logging

from openstack.compute.v2 import _proxy
from osc_lib import exceptions

from osc_hypervisor_servers import apply
from osc_hypervisor_servers import changes as changes_module
from osc_hypervisor_servers import connections
from osc_hypervisor_servers import drain as drain_module
from osc_hypervisor_servers import executor
from osc_hypervisor_servers import hypervisors as hypervisors_module
from osc_hypervisor_servers import journal as journal_module
from osc_hypervisor_servers import migrations
from osc_hypervisor_servers import moves
from osc_hypervisor_servers import plan
from osc_hypervisor_servers import restore
from osc_hypervisor_servers import retry as retry_module
from osc_hypervisor_servers import selection as selection_module
from osc_hypervisor_servers import services
from osc_hypervisor_servers import version

LOG = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """How to run, whatever the verb."""

    retry: retry_module.RetryPolicy
    parallel: int = 1
    dry_run: bool = False
    progress: executor.Progress | None = None
    #: Where to journal the run; None: the default directory.
    journal: str | None = None


@dataclasses.dataclass(frozen=True)
class Outcome:
    hypervisors: list[hypervisors_module.Hypervisor]
    report: executor.Report
    #: The journal of the run, when it wrote anything.
    journal: str | None = None
    #: What went wrong, in one line; the report's own when None.
    problem: str | None = None

    @property
    def summary(self) -> str:
        return self.problem or self.report.summary()


def _endpoint(compute: _proxy.Proxy) -> str:
    return str(compute.get_endpoint() or '')


def _execute_journaled(
    compute: _proxy.Proxy,
    verb: str,
    hypervisors: Sequence[hypervisors_module.Hypervisor],
    plans: Sequence[plan.ServerPlan],
    options: RunOptions,
    journal_options: dict[str, object],
    other_rows: Sequence[executor.ServerResult] = (),
    restores: str | None = None,
) -> tuple[executor.Report, str | None]:
    """Preview, or journal then send, ``plans``."""
    if options.dry_run:
        return apply.preview(plans, other_rows), None
    journal = None
    if any(server_plan.calls for server_plan in plans):
        journal = journal_module.Journal.write_ahead(
            options.journal,
            verb,
            _endpoint(compute),
            hypervisors,
            plans,
            journal_options,
            restores=restores,
        )
    report = apply.execute(
        compute,
        plans,
        options.retry,
        options.parallel,
        progress=options.progress,
        other_rows=other_rows,
    )
    if journal is None:
        return report, None
    try:
        journal.finish(report)
    except OSError as error:
        # The journal written before the run still undoes it.
        LOG.warning(
            'Could not record the results in journal %s: %s',
            journal.path,
            error.strerror,
        )
    return report, str(journal.path)


def change_servers(
    compute: _proxy.Proxy,
    verb: str,
    selection: selection_module.Selection,
    change: changes_module.Change,
    options: RunOptions,
) -> Outcome:
    """``hypervisor servers set`` and ``unset``."""
    selection.check()
    version.require(
        compute,
        change.required_microversions()
        + selection_module.REQUIRED_MICROVERSIONS,
    )
    connections.fit_pool(compute, options.parallel)
    selected = selection_module.select(
        compute, selection, options.retry, options.parallel
    )
    plans = plan.plan_servers(selected.servers, change)
    report, journal = _execute_journaled(
        compute,
        verb,
        selected.hypervisors,
        plans,
        options,
        {
            'hypervisors': list(selection.hypervisors),
            'matching': list(selection.matching),
            'status': selection.status,
            'project_id': selection.project_id,
        },
    )
    return Outcome(selected.hypervisors, report, journal)


def restore_servers(
    compute: _proxy.Proxy,
    journal_path: str,
    options: RunOptions,
    check_endpoint: bool = True,
) -> Outcome:
    """``hypervisor servers restore``: undo what a journaled run did."""
    document = journal_module.read(journal_path)
    endpoint = _endpoint(compute)
    if check_endpoint and document.endpoint != endpoint:
        raise exceptions.CommandError(
            f'Journal {journal_path} was written against '
            f'{document.endpoint}, not this cloud ({endpoint}); give '
            f'--any-endpoint if they are the same cloud'
        )
    version.require(
        compute,
        changes_module.required_microversions(
            change.attribute
            for entry in document.servers
            for change in entry.changes
        ),
    )
    connections.fit_pool(compute, options.parallel)
    hypervisors = list(document.hypervisors)
    now = selection_module.find_by_id(
        compute,
        [entry.id for entry in document.servers],
        hypervisors,
        options.retry,
        options.parallel,
    )
    plans = []
    gone = []
    for entry in document.servers:
        server = now[entry.id]
        if server is None:
            gone.append(restore.gone(entry))
        else:
            plans.append(restore.plan_server(entry, server))
    report, journal = _execute_journaled(
        compute,
        'restore',
        hypervisors,
        plans,
        options,
        {'journal': journal_path},
        other_rows=gone,
        restores=journal_path,
    )
    return Outcome(hypervisors, report, journal)


@dataclasses.dataclass(frozen=True)
class Drain:
    """How to drain: the options of ``migrate`` and ``evacuate``."""

    mode: moves.Mode
    #: The hypervisor to move to (ID or exact hostname); None: the
    #: scheduler picks.
    target: str | None = None
    wait: bool = True
    confirm: bool = True
    timeout: float = 1800.0
    disable_service: bool = False
    disable_reason: str | None = None


#: How often a drain lists the migrations of each source host.
WATCH_INTERVAL_SECONDS = 1.0


def _target_host(
    compute: _proxy.Proxy,
    reference: str | None,
    sources: Sequence[hypervisors_module.Hypervisor],
    retry: retry_module.RetryPolicy,
) -> str | None:
    if reference is None:
        return None
    target = hypervisors_module.find_hypervisor(compute, reference, retry)
    if target.id in {source.id for source in sources}:
        raise exceptions.CommandError(
            f'--host {reference}: the target is one of the hypervisors '
            f'being drained'
        )
    if target.host is None:
        raise exceptions.CommandError(
            f'--host {reference}: hypervisor {target.name} has no compute '
            f'service to move servers to'
        )
    return target.host


def _still_there(report: executor.Report, dry_run: bool) -> str | None:
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


def drain_servers(
    compute: _proxy.Proxy,
    selection: selection_module.Selection,
    drain: Drain,
    options: RunOptions,
    notify: Callable[[str], None],
) -> Outcome:
    """``hypervisor servers migrate`` and ``evacuate``.

    ``parallel`` is per source host: Nova runs a few moves per compute
    at a time and queues the rest, so each source is kept busy and
    several are drained side by side.
    """
    selection.check()
    version.require(
        compute,
        [(version.MIGRATION_WATCH, 'to follow migrations')]
        + selection_module.REQUIRED_MICROVERSIONS,
    )
    retry = options.retry
    selected = selection_module.select(
        compute, selection, retry, options.parallel
    )
    target = _target_host(compute, drain.target, selected.hypervisors, retry)
    sources = sorted(
        {h.host for h in selected.hypervisors if h.host is not None}
    )
    found = services.compute_services(
        compute, sources, retry, options.parallel
    )
    if drain.mode == moves.EVACUATE:
        services.require_down(found)
    plans = moves.plan_moves(selected.servers, drain.mode, target)
    if options.dry_run:
        report = executor.Report(
            executor.sorted_results(drain_module.preview(p) for p in plans)
        )
        for service in found:
            if drain.disable_service and service.status != 'disabled':
                notify(f'Would disable the compute service of {service.host}')
        return Outcome(
            selected.hypervisors, report, problem=_still_there(report, True)
        )
    if drain.disable_service:
        for service in found:
            _disable(compute, service, drain.disable_reason, retry, notify)
    to_move = [plan for plan in plans if plan.kind is not None]
    # Each worker keeps a connection, and so does the watcher.
    connections.fit_pool(compute, options.parallel * len(sources) + 1)
    clock = migrations.NovaClock()
    clock.learn(compute.get('/'))
    watcher = migrations.Watcher(compute, retry, WATCH_INTERVAL_SECONDS)
    move_options = drain_module.DrainOptions(
        compute=compute,
        retry=retry,
        watcher=watcher,
        clock=clock,
        microversion=version.negotiated(compute),
        wait=drain.wait,
        confirm=drain.confirm,
        timeout=drain.timeout,
    )
    try:
        report = executor.run(
            [drain_module.MoveTask(plan, move_options) for plan in to_move],
            options.parallel,
            lane=lambda task: task.server.compute_host or '',
            progress=options.progress,
            settled=[
                drain_module.skipped(plan)
                for plan in plans
                if plan.kind is None
            ],
        )
    finally:
        watcher.close()
    LOG.debug('Migration lists while waiting: %d', watcher.polls)
    return Outcome(
        selected.hypervisors, report, problem=_still_there(report, False)
    )


def _disable(
    compute: _proxy.Proxy,
    service: services.ComputeService,
    reason: str | None,
    retry: retry_module.RetryPolicy,
    notify: Callable[[str], None],
) -> None:
    done = 'was already disabled'
    if service.status != 'disabled':
        service = services.disable(compute, service, reason, retry)
        done = 'is disabled'
    because = (
        f' ({service.disabled_reason})' if service.disabled_reason else ''
    )
    notify(f'The compute service of {service.host} {done}{because}')
