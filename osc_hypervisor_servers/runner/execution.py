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

"""A verb's batch, previewed or run: the one place that decides on
``--dry-run``.

Every verb hands over a :class:`Batch`: one task per server that needs
work, the rows of servers that need none, and the steps the run takes
outside its tasks (write the journal, disable a compute service). A dry
run says what each step and task would do and calls nothing; a real run
performs the steps in order, runs the tasks, then lets each step
conclude (record the results), even after Ctrl-C. A run that gave up on
a cloud answering nothing (:class:`.retrying.NovaUnreachable`) reports
it (``Report.abandoned``): its steps conclude all the same.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
import dataclasses
import typing

from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import pool
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying


class Step(typing.Protocol):
    """What a run does besides its per-server tasks."""

    def preview(self) -> str | None:
        """What a dry run says this step would do; None: nothing."""
        ...

    def perform(self) -> None:
        """Do it, before the first task."""
        ...

    def conclude(self, report: reporting.Report) -> None:
        """After the last task, with every row."""
        ...


@dataclasses.dataclass(frozen=True)
class Batch:
    tasks: Sequence[pool.Task]
    #: The rows of the servers that need no task.
    rows_without_task: Sequence[reporting.ServerResult] = ()
    steps: Sequence[Step] = ()
    #: Tasks of one lane run at most ``parallel`` at a time.
    lane: Callable[[pool.Task], str] = pool.one_lane


def preview(batch: Batch, notify: Callable[[str], None]) -> reporting.Report:
    """The report a real run would start from, without any call."""
    for step in batch.steps:
        said = step.preview()
        if said:
            notify(said)
    return reporting.Report(
        reporting.sorted_results(
            [task.preview() for task in batch.tasks]
            + list(batch.rows_without_task)
        ),
        previewed=True,
    )


def carry_out(
    batch: Batch,
    options: invocation.RunOptions,
    context: invocation.RunContext,
) -> reporting.Report:
    """Preview ``batch`` (``options.dry_run``), or run it."""
    if options.dry_run:
        return preview(batch, context.notify)
    performed: list[Step] = []
    try:
        for step in batch.steps:
            step.perform()
            performed.append(step)
    except retrying.NovaUnreachable as error:
        report = _not_started(batch, str(error))
    else:
        report = pool.run_tasks(
            batch.tasks,
            options.parallel,
            lane=batch.lane,
            progress=context.progress,
            rows_without_task=batch.rows_without_task,
        )
        given_up = context.retry.given_up()
        if given_up is not None:
            report = dataclasses.replace(report, abandoned=given_up)
    for step in performed:
        step.conclude(report)
    return report


def _not_started(batch: Batch, why: str) -> reporting.Report:
    """The report of a run whose steps could not all be taken."""
    return reporting.Report(
        reporting.sorted_results(
            [
                reporting.ServerResult(
                    task.server, reporting.NOT_ATTEMPTED, f'not started: {why}'
                )
                for task in batch.tasks
            ]
            + list(batch.rows_without_task)
        ),
        abandoned=why,
    )
