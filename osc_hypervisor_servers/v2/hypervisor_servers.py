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


"""``openstack hypervisor servers set``, ``unset``, ``restore``,
``migrate`` and ``evacuate``.

Thin front ends: parse arguments, call the engine, format one row per
server. Heavy modules are imported when a command runs, not when cliff
loads the entry point, so ``openstack --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
import typing

from osc_lib import exceptions
from osc_lib.cli import parseractions
from osc_lib.command import command

from osc_hypervisor_servers import version

if typing.TYPE_CHECKING:
    from openstack.compute.v2 import _proxy

    from osc_hypervisor_servers import changes
    from osc_hypervisor_servers import engine
    from osc_hypervisor_servers import moves
    from osc_hypervisor_servers import progress
    from osc_hypervisor_servers import selection

LOG = logging.getLogger(__name__)

# The connection pool is sized to the parallelism asked for (see
# connections.py); the default is what the measurements in the
# performance page support.
MAX_PARALLEL = 64
DEFAULT_PARALLEL = 10
# Per source host: Nova runs one live migration per compute at a time by
# default (max_concurrent_live_migrations) and queues the rest. Two moves
# queued behind the running one keep the host busy while a finished move
# is seen and the next one submitted; see the performance page.
DEFAULT_DRAIN_PARALLEL = 3
DEFAULT_TIMEOUT = 1800
INTERRUPTED_EXIT_CODE = 130

# Nova's server statuses: OSC's "server list --status" choices, and
# UNKNOWN, which Nova also reports.
SERVER_STATUSES = (
    'ACTIVE', 'BUILD', 'DELETED', 'ERROR', 'HARD_REBOOT', 'MIGRATING',
    'PASSWORD', 'PAUSED', 'REBOOT', 'REBUILD', 'RESCUE', 'RESIZE',
    'REVERT_RESIZE', 'SHELVED', 'SHELVED_OFFLOADED', 'SHUTOFF',
    'SOFT_DELETED', 'SUSPENDED', 'UNKNOWN', 'VERIFY_RESIZE',
)  # fmt: skip

Rows = tuple[list[str], list[list[str]]]


def parallel_count(value: str) -> int:
    """argparse type of --parallel."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PARALLEL:
        raise argparse.ArgumentTypeError(
            f'{value!r} is not a whole number from 1 to {MAX_PARALLEL}'
        )
    return number


def _add_tag_option(parser: argparse.ArgumentParser, verb: str) -> None:
    parser.add_argument(
        '--tag',
        metavar='<tag>',
        action='append',
        default=[],
        dest='tags',
        help=f'Tag to {verb} each server (repeat option for several tags; '
        f'ASCII only; {version.supported_by(version.TAGS)})',
    )


class _RunCommand(command.Lister):
    """What every verb shares: run options, the table, the exit code."""

    #: Whether runs of this command write a journal.
    journaled = True
    default_parallel = DEFAULT_PARALLEL
    parallel_help = (
        f'Servers changed at the same time, from 1 (one after the other) '
        f'to {MAX_PARALLEL} (default: {DEFAULT_PARALLEL}, or the cloud\'s '
        f'"concurrency" setting when lower)'
    )
    #: Columns of the verb's own, between Result and Details.
    own_columns: tuple[str, ...] = ()
    progress_line: progress.ProgressLine | None = None

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        self.add_target_arguments(parser)
        parser.add_argument(
            '--dry-run',
            action='store_true',
            help='Show what would be done to each server, and do nothing',
        )
        parser.add_argument(
            '--parallel',
            metavar='<count>',
            type=parallel_count,
            help=self.parallel_help,
        )
        if self.journaled:
            parser.add_argument(
                '--journal',
                metavar='<file>',
                help='Write the journal of this run (what it replaces, '
                'for "hypervisor servers restore") to <file>, which must '
                'not exist (default: a new file under '
                '$XDG_STATE_HOME/osc-hypervisor-servers/journal/)',
            )
        return parser

    def add_target_arguments(self, parser: argparse.ArgumentParser) -> None:
        raise NotImplementedError

    def outcome(self, parsed_args: argparse.Namespace) -> engine.Outcome:
        raise NotImplementedError

    def show_hypervisor(
        self, parsed_args: argparse.Namespace, outcome: engine.Outcome
    ) -> bool:
        return len(outcome.hypervisors) > 1

    @property
    def compute(self) -> _proxy.Proxy:
        # OSC's ClientManager makes its clients attributes at run time.
        compute: _proxy.Proxy = self.app.client_manager.compute  # type: ignore[attr-defined]
        return compute

    def effective_parallel(self, parsed_args: argparse.Namespace) -> int:
        """--parallel, else the default bounded by the cloud's setting."""
        if parsed_args.parallel:
            asked: int = parsed_args.parallel
            return asked
        config = self.app.client_manager.sdk_connection.config
        # clouds.yaml values reach us as strings.
        concurrency = int(str(config.get_concurrency('compute') or 0))
        return min(self.default_parallel, concurrency or self.default_parallel)

    def run_options(
        self, parsed_args: argparse.Namespace
    ) -> engine.RunOptions:
        from osc_hypervisor_servers import engine
        from osc_hypervisor_servers import retry

        return engine.RunOptions(
            retry=retry.RetryPolicy(),
            parallel=self.effective_parallel(parsed_args),
            dry_run=parsed_args.dry_run,
            progress=self.progress_line,
            journal=getattr(parsed_args, 'journal', None),
        )

    def take_action(self, parsed_args: argparse.Namespace) -> Rows:
        from osc_hypervisor_servers import progress

        self.progress_line = None
        if not parsed_args.dry_run:
            self.progress_line = progress.for_stream(sys.stderr)
        try:
            outcome = self.outcome(parsed_args)
        finally:
            if self.progress_line is not None:
                self.progress_line.close()
        self.result = outcome
        return _rows(
            outcome,
            self.show_hypervisor(parsed_args, outcome),
            self.own_columns,
        )

    def run(self, parsed_args: argparse.Namespace) -> int:
        exit_code: int = super().run(parsed_args)
        outcome = self.result
        if outcome.journal is not None:
            self.app.stderr.write(
                f'Journal of this run: {outcome.journal}\n'
                f'To undo it: openstack hypervisor servers restore '
                f'{shlex.quote(outcome.journal)}\n'
            )
        if outcome.report.interrupted:
            LOG.warning('Interrupted: %s', outcome.summary)
            return INTERRUPTED_EXIT_CODE
        if not outcome.report.succeeded:
            raise exceptions.CommandError(outcome.summary)
        return exit_code


def _rows(
    outcome: engine.Outcome,
    show_hypervisor: bool,
    own_columns: tuple[str, ...],
) -> Rows:
    columns = ['ID', 'Name', 'Project']
    if show_hypervisor:
        columns.append('Hypervisor')
    columns += ['Result', *own_columns, 'Details']
    rows = []
    for result in outcome.report.results:
        server = result.server
        row = [server.id, server.name, server.project_id]
        if show_hypervisor:
            row.append(server.hypervisor_hostname or '')
        row.append(str(result.status))
        row += [result.columns.get(column, '') for column in own_columns]
        rows.append(row + [result.details])
    return columns, rows


class _SelectionCommand(_RunCommand):
    """A verb that acts on the servers of hypervisors."""

    def add_target_arguments(self, parser: argparse.ArgumentParser) -> None:
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
        self.add_verb_arguments(parser)

    def add_verb_arguments(self, parser: argparse.ArgumentParser) -> None:
        raise NotImplementedError

    def show_hypervisor(
        self, parsed_args: argparse.Namespace, outcome: engine.Outcome
    ) -> bool:
        return len(outcome.hypervisors) > 1 or bool(parsed_args.matching)

    def selection_from(
        self, parsed_args: argparse.Namespace
    ) -> selection.Selection:
        from osc_hypervisor_servers import selection

        return selection.Selection(
            hypervisors=tuple(parsed_args.hypervisors),
            matching=tuple(parsed_args.matching),
            status=parsed_args.status,
            project_id=self._project_id(parsed_args),
        )

    def _project_id(self, parsed_args: argparse.Namespace) -> str | None:
        if not parsed_args.project:
            return None
        from openstackclient.identity import common as identity_common

        try:
            project_id: str = identity_common.find_project_id_sdk(
                self.app.client_manager.sdk_connection.identity,
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


class _ChangeCommand(_SelectionCommand):
    """``set`` and ``unset``."""

    verb = ''

    def change_from(self, parsed_args: argparse.Namespace) -> changes.Change:
        raise NotImplementedError

    def outcome(self, parsed_args: argparse.Namespace) -> engine.Outcome:
        from osc_hypervisor_servers import engine

        change = self.change_from(parsed_args)
        return engine.change_servers(
            self.compute,
            self.verb,
            self.selection_from(parsed_args),
            change,
            self.run_options(parsed_args),
        )


class SetHypervisorServers(_ChangeCommand):
    _description = (
        'Set properties, description or tags on every server of '
        'hypervisor(s). The values each server had before are written to '
        'a journal first; "hypervisor servers restore" puts them back.'
    )
    verb = 'set'

    def add_verb_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            '--property',
            metavar='<key=value>',
            action=parseractions.KeyValueAction,
            dest='properties',
            help='Property to set on each server '
            '(repeat option to set multiple properties)',
        )
        parser.add_argument(
            '--description',
            metavar='<description>',
            help='Description to set on each server '
            f'({version.supported_by(version.DESCRIPTION)})',
        )
        _add_tag_option(parser, 'add to')

    def change_from(self, parsed_args: argparse.Namespace) -> changes.Change:
        from osc_hypervisor_servers import changes

        return changes.change_to_set(
            properties=parsed_args.properties,
            description=parsed_args.description,
            tags=parsed_args.tags,
        )


class UnsetHypervisorServers(_ChangeCommand):
    _description = (
        'Unset properties, description or tags on every server of '
        'hypervisor(s). The values removed are written to a journal first; '
        '"hypervisor servers restore" puts them back.'
    )
    verb = 'unset'

    def add_verb_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            '--property',
            metavar='<key>',
            action='append',
            default=[],
            dest='properties',
            help='Property to remove from each server '
            '(repeat option to remove multiple properties)',
        )
        parser.add_argument(
            '--description',
            action='store_true',
            help='Remove the description of each server '
            f'({version.supported_by(version.DESCRIPTION)})',
        )
        _add_tag_option(parser, 'remove from')

    def change_from(self, parsed_args: argparse.Namespace) -> changes.Change:
        from osc_hypervisor_servers import changes

        return changes.change_to_unset(
            property_keys=parsed_args.properties,
            description=parsed_args.description,
            tags=parsed_args.tags,
        )


class RestoreHypervisorServers(_RunCommand):
    _description = (
        'Undo a journaled set, unset or restore: on each server of the '
        'journal, put back every value the run replaced, where the server '
        'still holds what the run wrote. A value changed since is kept and '
        'its row says so; a server deleted since is reported as gone. A '
        'restore is journaled too, so it can itself be undone.'
    )

    def add_target_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            'journal_to_restore',
            metavar='<journal>',
            help='Journal of the run to undo, as printed at its end',
        )
        parser.add_argument(
            '--any-endpoint',
            action='store_true',
            help="Restore even when the journal's compute endpoint is not "
            "this cloud's (the same cloud under another URL)",
        )

    def show_hypervisor(
        self, parsed_args: argparse.Namespace, outcome: engine.Outcome
    ) -> bool:
        return True

    def outcome(self, parsed_args: argparse.Namespace) -> engine.Outcome:
        from osc_hypervisor_servers import engine

        return engine.restore_servers(
            self.compute,
            parsed_args.journal_to_restore,
            self.run_options(parsed_args),
            check_endpoint=not parsed_args.any_endpoint,
        )


class _DrainCommand(_SelectionCommand):
    """``migrate`` and ``evacuate``."""

    journaled = False
    default_parallel = DEFAULT_DRAIN_PARALLEL
    parallel_help = (
        f'Servers moved at the same time from each hypervisor, from 1 to '
        f'{MAX_PARALLEL}; several hypervisors are drained side by side '
        f'(default: {DEFAULT_DRAIN_PARALLEL})'
    )
    own_columns = ('Action', 'Destination', 'Migration')

    def add_verb_arguments(self, parser: argparse.ArgumentParser) -> None:
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
        parser.add_argument(
            '--no-wait',
            dest='wait',
            action='store_false',
            help='Only submit the moves; each row says "submitted" with its '
            'migration ID (default: wait, and check where each server went)',
        )
        parser.add_argument(
            '--timeout',
            metavar='<seconds>',
            type=float,
            default=DEFAULT_TIMEOUT,
            help='How long to wait for each server, from the start of its '
            f'move (default: {DEFAULT_TIMEOUT})',
        )

    def show_hypervisor(
        self, parsed_args: argparse.Namespace, outcome: engine.Outcome
    ) -> bool:
        return True

    def drain_from(self, parsed_args: argparse.Namespace) -> engine.Drain:
        from osc_hypervisor_servers import engine

        if parsed_args.disable_reason and not parsed_args.disable_service:
            raise exceptions.CommandError(
                '--disable-reason goes with --disable-service'
            )
        if parsed_args.timeout <= 0:
            raise exceptions.CommandError(
                f'--timeout {parsed_args.timeout:g}: give a number of '
                f'seconds above 0'
            )
        return engine.Drain(
            mode=self.mode_from(parsed_args),
            target=parsed_args.host,
            wait=parsed_args.wait,
            confirm=getattr(parsed_args, 'confirm', True),
            timeout=parsed_args.timeout,
            disable_service=parsed_args.disable_service,
            disable_reason=parsed_args.disable_reason,
        )

    def mode_from(self, parsed_args: argparse.Namespace) -> moves.Mode:
        raise NotImplementedError

    def outcome(self, parsed_args: argparse.Namespace) -> engine.Outcome:
        from osc_hypervisor_servers import engine

        drain = self.drain_from(parsed_args)
        return engine.drain_servers(
            self.compute,
            self.selection_from(parsed_args),
            drain,
            self.run_options(parsed_args),
            notify=self.tell,
        )

    def tell(self, message: str) -> None:
        self.app.stderr.write(message + '\n')


class MigrateHypervisorServers(_DrainCommand):
    _description = (
        'Move every server off hypervisor(s), and say where each one went. '
        'ACTIVE and PAUSED servers are live migrated, SHUTOFF ones cold '
        'migrated and confirmed, so that each ends in its power state of '
        'before; servers in other states, or with a task under way, are '
        'skipped with the reason. A server is "migrated" only when its '
        'migration record says the move completed and it is on another '
        'hypervisor. Exits 1 unless every server left its hypervisor.'
    )

    def add_verb_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_verb_arguments(parser)
        kind = parser.add_mutually_exclusive_group()
        kind.add_argument(
            '--live-migration',
            dest='kind',
            action='store_const',
            const='live',
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
        parser.add_argument(
            '--no-confirm',
            dest='confirm',
            action='store_false',
            help='Leave cold migrations in VERIFY_RESIZE for you to confirm '
            'or revert (default: confirm them)',
        )

    def mode_from(self, parsed_args: argparse.Namespace) -> moves.Mode:
        mode: moves.Mode = parsed_args.kind or 'auto'
        return mode


class EvacuateHypervisorServers(_DrainCommand):
    _description = (
        'Rebuild every server of failed hypervisor(s) on other hypervisors '
        '(evacuate), and say where each one went. Refused unless the '
        "hypervisor's compute service is down or forced down: evacuating "
        'from a host that still runs its servers can corrupt their disks. '
        'ACTIVE, SHUTOFF and ERROR servers are evacuated; their power state '
        'afterwards is what Nova gives for the microversion in use (from '
        f'{version.EVACUATION_KEEPS_STOPPED}, the default on current clouds: '
        'stopped).'
    )

    def mode_from(self, parsed_args: argparse.Namespace) -> moves.Mode:
        return 'evacuate'
