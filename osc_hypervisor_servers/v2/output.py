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

"""What every command prints: one row per server, then how it ended."""

from __future__ import annotations

import logging
import shlex
import typing

from osc_lib import exceptions

from osc_hypervisor_servers.runner import reporting

LOG = logging.getLogger(__name__)

INTERRUPTED_EXIT_CODE = 130

Rows = tuple[list[str], list[list[str]]]


def table(outcome: reporting.Outcome) -> Rows:
    """The columns and rows of ``outcome``."""
    own_columns = outcome.columns
    columns = ['ID', 'Name', 'Project']
    if outcome.wide:
        columns.append('Hypervisor')
    columns += ['Result', *own_columns, 'Details']
    rows = []
    for result in outcome.report.results:
        server = result.server
        row = [server.id, server.name, server.project_id]
        if outcome.wide:
            row.append(server.hypervisor_hostname or '')
        row.append(str(result.status))
        verbs_own = result.columns()
        row += [verbs_own.get(column, '') for column in own_columns]
        rows.append(row + [result.details])
    return columns, rows


def conclude(outcome: reporting.Outcome, stderr: typing.TextIO) -> int:
    """After the table: name the journal, and give the exit code (a
    failure is a one-line error).
    """
    if outcome.journal is not None:
        recorded = 'every server\'s'
        if outcome.journal_unrecorded is not None:
            recorded = (
                f'none ({outcome.journal_unrecorded}): the journal holds '
                f'what the run was about to do, which undoes it all the same'
            )
        stderr.write(
            f'Journal of this run: {outcome.journal}\n'
            f'Results recorded in it: {recorded}\n'
            f'To undo it: openstack hypervisor servers restore '
            f'{shlex.quote(outcome.journal)}\n'
        )
    if outcome.report.interrupted:
        LOG.warning('Interrupted: %s', outcome.summary)
        return INTERRUPTED_EXIT_CODE
    if not outcome.succeeded:
        raise exceptions.CommandError(outcome.summary)
    return 0
