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

"""The options the commands share, added to a parser and read back.

Each command builds its parser from these helpers, in the order its
``--help`` shows them, and turns what they parsed into its verb's
options.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
import contextlib
import sys

from cliff import app as cliff_app
from openstack.compute.v2 import _proxy
from openstackclient.identity import common as identity_common
from osc_lib import exceptions

from osc_hypervisor_servers import version
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import progress
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.selection import selector

# The connection pool is sized to the parallelism asked for (see
# runner/connections.py).
MAX_PARALLEL = 64

# Nova's server statuses: OSC's "server list --status" choices, and
# UNKNOWN, which Nova also reports.
SERVER_STATUSES = (
    'ACTIVE', 'BUILD', 'DELETED', 'ERROR', 'HARD_REBOOT', 'MIGRATING',
    'PASSWORD', 'PAUSED', 'REBOOT', 'REBUILD', 'RESCUE', 'RESIZE',
    'REVERT_RESIZE', 'SHELVED', 'SHELVED_OFFLOADED', 'SHUTOFF',
    'SOFT_DELETED', 'SUSPENDED', 'UNKNOWN', 'VERIFY_RESIZE',
)  # fmt: skip

PARALLEL_HELP = (
    f'Servers changed at the same time, from 1 (one after the other) to '
    f'{MAX_PARALLEL} (default: {invocation.DEFAULT_PARALLEL}, or the '
    f'cloud\'s "concurrency" setting when lower)'
)
RESTORE_PARALLEL_HELP = (
    f'Servers changed at the same time, from 1 to {MAX_PARALLEL} '
    f'(default: {invocation.DEFAULT_PARALLEL}); for a journal of migrate or '
    f'evacuate, servers moved back at the same time from each hypervisor '
    f'they are on (default: {move_options.DEFAULT_PARALLEL_PER_HOST}; '
    f'reads {invocation.DEFAULT_PARALLEL} at a time, or this many when more)'
)
DRAIN_PARALLEL_HELP = (
    f'Servers moved at the same time from each hypervisor, from 1 to '
    f'{MAX_PARALLEL}; several hypervisors are drained side by side '
    f'(default: {move_options.DEFAULT_PARALLEL_PER_HOST}). Reads are '
    f'made {invocation.DEFAULT_PARALLEL} at a time, or this many when more'
)


def bounded_count(value: str, most: int) -> int:
    """``value`` as a whole number from 1 to ``most``, for argparse."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= most:
        raise argparse.ArgumentTypeError(
            f'{value!r} is not a whole number from 1 to {most}'
        )
    return number


def parallel_count(value: str) -> int:
    """argparse type of --parallel."""
    return bounded_count(value, MAX_PARALLEL)


def positive_seconds(value: str) -> float:
    """argparse type of --timeout."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    # "nan" and "inf" parse as floats; neither is a wait.
    if not 0 < seconds < float('inf'):
        raise argparse.ArgumentTypeError(
            f'{value!r} is not a number of seconds above 0'
        )
    return seconds


def add_selection(parser: argparse.ArgumentParser) -> None:
    """The hypervisors, and which of their servers."""
    parser.add_argument(
        'hypervisors',
        metavar='<hypervisor>',
        nargs='*',
        help='Hypervisor whose servers to act on, by ID or exact '
        'hostname (never a substring); repeat for several',
    )
    parser.add_argument(
        '--matching',
        metavar='<substring>',
        action='append',
        default=[],
        help='Also act on every hypervisor whose hostname contains '
        '<substring>, like "nova host-meta" without --strict '
        '(repeat option for several)',
    )
    parser.add_argument(
        '--status',
        metavar='<status>',
        type=str.upper,
        choices=SERVER_STATUSES,
        help='Only servers in this status, e.g. ACTIVE',
    )
    parser.add_argument(
        '--project',
        metavar='<project>',
        help='Only servers of this project (name or ID)',
    )
    parser.add_argument(
        '--project-domain',
        metavar='<project-domain>',
        help='Domain the project belongs to (name or ID), in case '
        'project names collide',
    )


def add_tag(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        '--tag',
        metavar='<tag>',
        action='append',
        default=[],
        dest='tags',
        help=f'Tag to {verb} each server (repeat option for several tags; '
        f'ASCII only; {version.supported_by(version.TAGS)})',
    )


def add_run(parser: argparse.ArgumentParser, parallel_help: str) -> None:
    """--dry-run, --parallel and --unreachable-timeout, which every verb
    takes.
    """
    parser.add_argument(
        '--dry-run',
        action='store_true',
        help='Show what would be done to each server, and do nothing',
    )
    parser.add_argument(
        '--parallel',
        metavar='<count>',
        type=parallel_count,
        help=parallel_help,
    )
    parser.add_argument(
        '--unreachable-timeout',
        metavar='<seconds>',
        type=positive_seconds,
        default=invocation.DEFAULT_PATIENCE,
        help='How long the run keeps trying while Nova answers nothing at '
        'all (connections refused or cut, 502, 503, 504), from its last '
        'answer; then it stops, says which servers were left in progress '
        'or not started, and exits 1 (default: '
        f'{invocation.DEFAULT_PATIENCE:g})',
    )


def add_journal(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        '--journal',
        metavar='<file>',
        help='Write the journal of this run (what it replaces, for '
        '"hypervisor servers restore") to <file>, which must not exist '
        '(default: a new file under '
        '$XDG_STATE_HOME/osc-hypervisor-servers/journal/)',
    )


def add_drain(parser: argparse.ArgumentParser) -> None:
    """Where ``migrate`` and ``evacuate`` move servers, and what they do
    with the compute services.
    """
    parser.add_argument(
        '--host',
        metavar='<hypervisor>',
        help='Move the servers to this hypervisor (ID or exact '
        'hostname; admin only); default: the scheduler picks',
    )
    parser.add_argument(
        '--disable-service',
        action='store_true',
        help="Disable each hypervisor's compute service first, so that "
        'nothing is scheduled back to it (said on stderr)',
    )
    parser.add_argument(
        '--disable-reason',
        metavar='<reason>',
        help='Reason to record with --disable-service',
    )


TIMEOUT_HELP = (
    'How long to wait for each server, from the start of its move '
    f'(default: {invocation.DEFAULT_TIMEOUT:g})'
)
TASK_TIMEOUT_HELP = (
    'How long to wait for a server whose task is under way (a migration, '
    'say) to be free before changing its properties, which Nova refuses '
    f'meanwhile (default: {invocation.DEFAULT_TIMEOUT:g})'
)


def add_timeout(parser: argparse.ArgumentParser, help_text: str) -> None:
    parser.add_argument(
        '--timeout',
        metavar='<seconds>',
        type=positive_seconds,
        default=invocation.DEFAULT_TIMEOUT,
        help=help_text,
    )


def add_waiting(parser: argparse.ArgumentParser, timeout_help: str) -> None:
    """How a run that moves servers waits for them."""
    parser.add_argument(
        '--no-wait',
        dest='wait',
        action='store_false',
        help='Only submit the moves; each row says "submitted" with its '
        'migration ID (default: wait, and check where each server went)',
    )
    add_timeout(parser, timeout_help)


def add_move_kind(parser: argparse.ArgumentParser) -> None:
    """--live-migration or --cold-migration (default: by state)."""
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument(
        '--live-migration',
        dest='kind',
        action='store_const',
        const='live',
        default='auto',
        help='Live migrate every server (ACTIVE or PAUSED); others are '
        'skipped',
    )
    kind.add_argument(
        '--cold-migration',
        dest='kind',
        action='store_const',
        const='cold',
        help='Cold migrate every server (ACTIVE or SHUTOFF); others are '
        'skipped',
    )


def add_preflight(parser: argparse.ArgumentParser) -> None:
    """Whether a run that moves servers checks first that they fit."""
    checks = parser.add_mutually_exclusive_group()
    checks.add_argument(
        '--allow-partial',
        action='store_true',
        help='Move the servers the pre-flight places, and skip the others '
        'with the reason (default: refuse the whole run, before its first '
        'move, if any server would not fit)',
    )
    checks.add_argument(
        '--skip-preflight',
        action='store_true',
        help='Do not check with Placement and the server groups that every '
        'server fits elsewhere; let the scheduler try each one',
    )


def preflight_of(parsed_args: argparse.Namespace) -> move_options.Preflight:
    return move_options.Preflight(
        check=not parsed_args.skip_preflight,
        allow_partial=parsed_args.allow_partial,
    )


def compute_of(app: cliff_app.App) -> _proxy.Proxy:
    # OSC's ClientManager makes its clients attributes at run time.
    compute: _proxy.Proxy = app.client_manager.compute  # type: ignore[attr-defined]
    return compute


def run_options(
    app: cliff_app.App,
    parsed_args: argparse.Namespace,
    default_parallel: int,
    journal: str | None = None,
    moves_per_host: bool = False,
) -> invocation.RunOptions:
    """--dry-run and --parallel (else the default bounded by the cloud's
    "concurrency" setting), with the ``journal`` file asked for.

    With ``moves_per_host``, --parallel counts the moves from each host,
    which says nothing of reads: they are made as many at a time as
    ``set`` makes writes by default, or --parallel when it is more.
    """
    config = app.client_manager.sdk_connection.config  # type: ignore[attr-defined]
    # clouds.yaml values reach us as strings.
    concurrency = int(str(config.get_concurrency('compute') or 0))

    def within_cloud(count: int) -> int:
        return min(count, concurrency or count)

    parallel: int = parsed_args.parallel or within_cloud(default_parallel)
    return invocation.RunOptions(
        parallel=parallel,
        dry_run=parsed_args.dry_run,
        journal=journal,
        read_parallel=max(parallel, within_cloud(invocation.DEFAULT_PARALLEL))
        if moves_per_host
        else None,
    )


def selection_of(
    app: cliff_app.App, parsed_args: argparse.Namespace
) -> selector.Selection:

    return selector.Selection(
        hypervisors=tuple(parsed_args.hypervisors),
        matching=tuple(parsed_args.matching),
        status=parsed_args.status,
        project_id=_project_id(app, parsed_args),
    )


def _project_id(
    app: cliff_app.App, parsed_args: argparse.Namespace
) -> str | None:
    if not parsed_args.project:
        return None

    try:
        project_id: str = identity_common.find_project_id_sdk(
            app.client_manager.sdk_connection.identity,  # type: ignore[attr-defined]
            parsed_args.project,
            parsed_args.project_domain,
        )
        return project_id
    except exceptions.CommandError as error:
        # OSC's own message for an unknown project is empty.
        reason = f': {error}' if str(error) else ''
        raise exceptions.CommandError(
            f'No project with name or ID {parsed_args.project!r}{reason}'
        ) from error


@contextlib.contextmanager
def running(
    app: cliff_app.App, parsed_args: argparse.Namespace, moves: bool = False
) -> Iterator[invocation.RunContext]:
    """What a run talks to: the cloud, and the terminal (a progress line
    on stderr when it is one, while tasks run; for ``moves``, with the
    moves in flight and the time left).
    """

    compute = compute_of(app)
    with progress.progress_line(
        sys.stderr,
        text=progress.moves_line if moves else progress.changes_line,
    ) as line:

        def notify(message: str) -> None:
            # A line of its own, not the end of the progress line.
            if line is not None:
                line.clear()
            app.stderr.write(message + '\n')

        patience = retrying.Reachability(
            parsed_args.unreachable_timeout,
            notify,
            # The version document: no database, no policy.
            probe=lambda: int(compute.get('/').status_code),
        )
        yield invocation.RunContext(
            compute,
            retrying.RetryPolicy(reachability=patience),
            progress=line,
            notify=notify,
            connect_placement=(
                lambda: app.client_manager.sdk_connection.placement  # type: ignore[attr-defined]
            )
            if moves
            else None,
        )
