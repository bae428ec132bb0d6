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

"""Running a drain's or a restore's moves, once they are planned.

One batch for the runner: its steps check what must hold before
anything is sent (the pre-flight's verdict), learn Nova's clock, journal
the run and change the compute services, in that order; its tasks are
the moves, in one lane per source host, all followed by one watcher of
migration records.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses

from osc_hypervisor_servers import version
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.moves import migrations
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import moving
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import tracking
from osc_hypervisor_servers.moves import verdicts
from osc_hypervisor_servers.moves import watching
from osc_hypervisor_servers.runner import connections
from osc_hypervisor_servers.runner import execution
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import pool
from osc_hypervisor_servers.runner import reporting

#: How often a run lists the migrations of each source host.
WATCH_INTERVAL_SECONDS = 1.0


def journal_entries(plans: planning.Plans) -> list[schema.ServerEntry]:
    """What the journal holds of each server a run moves."""
    return [
        schema.ServerEntry.of(
            plan.server, move=schema.MoveEntry(plan.kind.name, plan.target)
        )
        for plan in plans
        if isinstance(plan, planning.MovePlan)
    ]


def columns(check: move_options.Preflight) -> tuple[str, ...]:
    """The columns of a move's row, between Result and Details."""
    if check.check:
        return (*verdicts.COLUMNS, verdicts.PREFLIGHT_COLUMN)
    return verdicts.COLUMNS


def _source_host(task: pool.Task) -> str:
    return task.server.compute_host or ''


@dataclasses.dataclass(frozen=True)
class Ran:
    """What a run of moves did, and its journal."""

    report: reporting.Report
    journal: store.WriteAhead


def carry_out(
    context: invocation.RunContext,
    run: invocation.RunOptions,
    waiting: move_options.Waiting,
    plans: planning.Plans,
    document: schema.Document,
    services: Sequence[execution.Step],
    connections_needed: int,
    checks: Sequence[execution.Step] = (),
) -> Ran:
    """Preview or run ``plans`` with one watcher, journaled in
    ``document``: ``checks`` first (a refusal before anything is sent),
    then Nova's clock, the journal, and ``services``.
    """
    # Each worker keeps a connection, and so does the watcher.
    connections.fit_pool(context.compute, connections_needed + 1)
    watcher = watching.Watcher(
        context.compute, context.retry, WATCH_INTERVAL_SECONDS
    )
    clock = migrations.NovaClock()
    journal = store.WriteAhead(
        run.journal, document, record=verdicts.journaled, nova_clock=clock.now
    )
    shared = tracking.Tracking(
        context.compute,
        context.retry,
        watcher,
        clock,
        version.negotiated(context.compute),
    )
    batch = execution.Batch(
        tasks=[
            moving.MoveTask(plan, waiting, shared)
            for plan in plans
            if isinstance(plan, planning.MovePlan)
        ],
        rows_without_task=[
            verdicts.staying(plan)
            for plan in plans
            if isinstance(plan, planning.StayPlan)
        ],
        steps=[
            *checks,
            migrations.LearnNovaTime(context.compute, clock, context.retry),
            journal,
            *services,
        ],
        lane=_source_host,
    )
    try:
        report = execution.carry_out(batch, run, context)
    finally:
        watcher.close()
    return Ran(report, journal)


def asks_nova_again(
    waiting: move_options.Waiting, report: reporting.Report
) -> bool:
    """Whether the moves are over, so that Nova has the last word."""
    return not (
        report.previewed
        or not waiting.wait
        or report.interrupted
        or report.abandoned is not None
    )
