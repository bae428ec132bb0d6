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

"""``hypervisor servers set``, ``unset`` and ``restore`` of marks.

Each verb checks its input and the microversions, finds the servers,
plans each one without I/O, then hands the batch to the runner, which
previews it or runs it; a run that writes journals what it replaces
first. Every check comes before the first write.
"""

from __future__ import annotations

from collections.abc import Iterable
import functools

from osc_hypervisor_servers import version
from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.marks import apply
from osc_hypervisor_servers.marks import change_request
from osc_hypervisor_servers.marks import mark_options
from osc_hypervisor_servers.marks import planning
from osc_hypervisor_servers.runner import connections
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import execution
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.selection import listings
from osc_hypervisor_servers.selection import selector


def _journal_entries(
    plans: Iterable[planning.ServerPlan],
) -> list[schema.ServerEntry]:
    return [
        schema.ServerEntry.of(plan.server, changes=plan.changes)
        for plan in plans
        if plan.writes
    ]


def _revision(journal: store.WriteAhead) -> apply.Revise:
    """Journals a server's plan made again, in place of its first."""
    return lambda plan: journal.revise(
        schema.ServerEntry.of(plan.server, changes=plan.changes)
    )


def change(
    context: invocation.RunContext, options: mark_options.ChangeOptions
) -> reporting.Outcome:
    """``hypervisor servers set`` and ``unset``."""
    options.selection.check()
    errors.refuse_if(
        version.missing(
            context.compute,
            options.request.required_microversions()
            + selector.REQUIRED_MICROVERSIONS,
        )
    )
    parallel = options.run.parallel
    connections.fit_pool(context.compute, parallel)
    selected = selector.select(
        context.compute, options.selection, context.retry, parallel
    )
    plans = [
        planning.plan_change(server, options.request)
        for server in selected.servers
    ]
    journal = store.WriteAhead(
        options.run.journal,
        store.new_document(
            'marks',
            options.verb,
            context.endpoint,
            selected.hypervisors,
            _journal_entries(plans),
            options.selection.to_json(),
        ),
    )
    report = execution.carry_out(
        apply.batch(
            context.compute,
            plans,
            context.retry,
            functools.partial(planning.plan_change, request=options.request),
            _revision(journal),
            options.timeout,
            steps=[journal],
        ),
        options.run,
        context,
    )
    return reporting.Outcome(
        report,
        wide=len(selected.hypervisors) > 1 or bool(options.selection.matching),
        journal=journal.path,
        journal_unrecorded=journal.unrecorded,
    )


def _replan_undo(document: schema.Document) -> apply.Replan:
    """Plans the undo of ``document`` on a server as it is now."""
    changes = {entry.id: entry.changes for entry in document.servers}
    return lambda server: planning.plan_undo(changes[server.id], server)


def _plan_undo(
    document: schema.Document,
    now: dict[str, model.ServerState | None],
) -> tuple[list[planning.ServerPlan], list[reporting.ServerResult]]:
    """The plans that undo ``document`` on the servers as they are
    ``now``, and the rows of those gone or not the journal's.
    """
    plans = []
    unplanned = []
    for entry in document.servers:
        server = now[entry.id]
        if server is None:
            unplanned.append(
                reporting.ServerResult(
                    entry.server(),
                    reporting.GONE,
                    'the server no longer exists',
                )
            )
        elif (problem := entry.project_problem(server)) is not None:
            unplanned.append(
                reporting.ServerResult(server, reporting.SKIPPED, problem)
            )
        else:
            plans.append(planning.plan_undo(entry.changes, server))
    return plans, unplanned


def _restore_document(
    options: mark_options.RestoreOptions,
    endpoint: str,
    hypervisors: list[model.Hypervisor],
    plans: list[planning.ServerPlan],
) -> schema.Document:
    """The journal of a restore of marks, which undoes it in turn."""
    return store.new_document(
        'marks',
        'restore',
        endpoint,
        hypervisors,
        _journal_entries(plans),
        {'journal': options.journal},
        restores=options.journal,
    )


def restore(
    context: invocation.RunContext,
    options: mark_options.RestoreOptions,
    document: schema.Document,
) -> reporting.Outcome:
    """``hypervisor servers restore`` of a journal of marks: undo what
    the run did.
    """
    endpoint = context.endpoint
    store.check_endpoint(
        document, options.journal, endpoint, options.any_endpoint
    )
    errors.refuse_if(
        version.missing(
            context.compute,
            change_request.required_microversions(
                change.attribute
                for entry in document.servers
                for change in entry.changes
            ),
        )
    )
    parallel = options.run.parallel
    connections.fit_pool(context.compute, parallel)
    hypervisors = list(document.hypervisors)
    plans, unplanned = _plan_undo(
        document,
        listings.find_by_id(
            context.compute,
            [entry.id for entry in document.servers],
            context.retry,
            parallel,
            hypervisors=hypervisors,
        ),
    )
    journal = store.WriteAhead(
        options.run.journal,
        _restore_document(options, endpoint, hypervisors, plans),
    )
    report = execution.carry_out(
        apply.batch(
            context.compute,
            plans,
            context.retry,
            _replan_undo(document),
            _revision(journal),
            options.timeout,
            steps=[journal],
            rows_without_plan=unplanned,
        ),
        options.run,
        context,
    )
    return reporting.Outcome(
        report,
        wide=True,
        journal=journal.path,
        journal_unrecorded=journal.unrecorded,
    )
