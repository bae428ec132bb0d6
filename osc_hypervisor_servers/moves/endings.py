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

"""How a drain and a restore end: Nova's last word, in one line.

A drain succeeded when its hypervisors are empty, a restore when its
servers are home: once the moves are done, Nova is asked again, and the
end line and the exit code say what Nova shows, not what the rows
counted. Another operator may have moved some of the servers meanwhile;
Nova's listing does not care who did. Where Nova is not asked again (a
dry run, ``--no-wait``, Ctrl-C, a run that gave up on Nova) the rows
are all there is, and the line says so by its verb ("would stay").
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from collections.abc import Sequence
import dataclasses

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import verdicts
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.selection import listings
from osc_hypervisor_servers.selection import selector


def _places(servers: Iterable[model.ServerState]) -> str:
    """``on compute-7``, or ``2 on compute-7, 1 on compute-8``."""
    counts = collections.Counter(
        server.hypervisor_hostname or server.compute_host or ''
        for server in servers
    )
    if len(counts) == 1:
        return f'on {next(iter(counts))}'
    return ', '.join(f'{n} on {host}' for host, n in sorted(counts.items()))


def gave_up(report: reporting.Report) -> str:
    """The end line of a run that gave up on Nova."""
    moving = report.count(verdicts.IN_PROGRESS)
    waiting = report.count(reporting.NOT_ATTEMPTED)
    moves = 'move' if moving == 1 else 'moves'
    return (
        f'{report.abandoned}: gave up, with {moving} {moves} in progress '
        f'(Nova goes on with them) and {waiting} not started; once Nova '
        f'answers, run this command again to finish, or undo the run with '
        f'the restore above'
    )


def from_rows(report: reporting.Report, back: bool) -> str | None:
    """The end line when Nova is not asked again: what the rows say
    (``back``: of a restore).
    """
    if report.abandoned is not None:
        return gave_up(report)
    away = [result for result in report.results if not result.status.ok]
    if not away:
        return None
    if back:
        verb = 'would not be' if report.previewed else 'are not'
        return (
            f'{len(away)} of {len(report.results)} servers {verb} back '
            f'where they were'
        )
    verb = 'would stay' if report.previewed else 'are still'
    return (
        f'{len(away)} of {len(report.results)} servers {verb} '
        f'{_places(result.server for result in away)}'
    )


@dataclasses.dataclass(frozen=True)
class Drained:
    """A drain's rows once Nova listed its hypervisors again."""

    report: reporting.Report
    problem: str | None


def drain_census(
    context: invocation.RunContext,
    selection: selector.Selection,
    hypervisors: Sequence[model.Hypervisor],
    report: reporting.Report,
    workers: int,
    hint: str,
) -> Drained:
    """The drain's end, from the servers Nova lists on the drained
    ``hypervisors`` now: each one still there, or back, or arrived
    meanwhile, has its row say so (``hint`` for an arrival).
    """
    try:
        there = listings.list_servers(
            context.compute,
            hypervisors,
            context.retry,
            status=selection.status,
            project_id=selection.project_id,
            workers=workers,
        )
    except retrying.NovaUnreachable as error:
        return Drained(
            report, f'{error}: the drained hypervisors were not listed again'
        )
    rows = {result.server.id: result for result in report.results}
    for server in there:
        where = server.hypervisor_hostname
        row = rows.get(server.id)
        if row is None:
            rows[server.id] = reporting.ServerResult(
                server,
                verdicts.ARRIVED,
                f'on {where} once the drain ended, not before{hint}',
            )
        elif row.status.ok:
            rows[server.id] = dataclasses.replace(
                row,
                status=reporting.FAILED,
                details=f'{row.details}; but on {where} again',
            )
    report = dataclasses.replace(
        report, results=reporting.sorted_results(rows.values())
    )
    if there:
        return Drained(
            report,
            f'{len(there)} of {len(report.results)} servers are still '
            f'{_places(there)}',
        )
    if report.succeeded:
        return Drained(report, None)
    names = ' and '.join(hypervisor.name for hypervisor in hypervisors)
    verb = 'is' if len(hypervisors) == 1 else 'are'
    return Drained(report, f'{names} {verb} empty, but {report.summary()}')


def restore_census(
    context: invocation.RunContext,
    plans: Sequence[planning.MovePlan | planning.StayPlan],
    report: reporting.Report,
    workers: int,
) -> str | None:
    """The restore's end line, from where Nova shows its servers now:
    each one the restore moved back that is not on its host of before
    (unless kept where someone else moved it), and each it could not.
    """
    moved = [plan for plan in plans if isinstance(plan, planning.MovePlan)]
    try:
        now = listings.find_by_id(
            context.compute,
            [plan.server.id for plan in moved],
            context.retry,
            workers,
            hosts=sorted({plan.target for plan in moved if plan.target}),
        )
    except retrying.NovaUnreachable as error:
        return f'{error}: the servers were not read again'
    rows = {result.server.id: result for result in report.results}
    away = {
        plan.server.id
        for plan in moved
        if (server := now[plan.server.id]) is not None
        and server.compute_host != plan.target
        and rows[plan.server.id].status is not verdicts.KEPT
    } | {
        plan.server.id
        for plan in plans
        if isinstance(plan, planning.StayPlan) and not plan.status.ok
    }
    if away:
        return (
            f'{len(away)} of {len(report.results)} servers are not back '
            f'where they were'
        )
    return None if report.succeeded else report.summary()
