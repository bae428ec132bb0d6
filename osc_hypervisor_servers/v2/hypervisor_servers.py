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

"""``openstack hypervisor servers set`` and ``unset``.

Thin front ends: parse arguments, call the engine, format one row per
server. Heavy modules are imported when a command runs, not when cliff
loads the entry point, so ``openstack --help`` stays fast.
"""

import argparse
import logging
import sys

from osc_lib import exceptions
from osc_lib.cli import parseractions
from osc_lib.command import command

LOG = logging.getLogger(__name__)

# requests keeps 10 connections per host: more workers than that only
# open and discard connections (and urllib3 warns). Measured against the
# sandbox with 100 and 300 ms latency, 10 workers were the fastest.
MAX_PARALLEL = 10
DEFAULT_PARALLEL = MAX_PARALLEL
INTERRUPTED_EXIT_CODE = 130

# Server states as OSC's "server list --status" knows them.
SERVER_STATUSES = (
    'ACTIVE', 'BUILD', 'DELETED', 'ERROR', 'HARD_REBOOT', 'MIGRATING',
    'PASSWORD', 'PAUSED', 'REBOOT', 'REBUILD', 'RESCUE', 'RESIZE',
    'REVERT_RESIZE', 'SHELVED', 'SHELVED_OFFLOADED', 'SHUTOFF',
    'SOFT_DELETED', 'SUSPENDED', 'UNKNOWN', 'VERIFY_RESIZE',
)  # fmt: skip


def _parallel(value):
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PARALLEL:
        raise argparse.ArgumentTypeError(
            f'{value!r} is not a whole number from 1 to {MAX_PARALLEL}'
        )
    return number


def _add_tag_option(parser, verb):
    parser.add_argument(
        '--tag',
        metavar='<tag>',
        action='append',
        default=[],
        dest='tags',
        help=f'Tag to {verb} each server (repeat option for several tags; '
        f'supported by --os-compute-api-version 2.26 or above)',
    )


class _HypervisorServersCommand(command.Lister):
    """What ``set`` and ``unset`` share: selection, run, output, exit."""

    def get_parser(self, prog_name):
        parser = super().get_parser(prog_name)
        parser.add_argument(
            'hypervisors',
            metavar='<hypervisor>',
            nargs='*',
            help='Hypervisor whose servers to change, by ID or exact '
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
        parser.add_argument(
            '--dry-run',
            action='store_true',
            help='Show what would change on each server and change nothing',
        )
        parser.add_argument(
            '--parallel',
            metavar='<count>',
            type=_parallel,
            help=f'Servers changed at the same time, from 1 (one after the '
            f'other) to {MAX_PARALLEL} (default: {DEFAULT_PARALLEL}, or the '
            f'cloud\'s "concurrency" setting when lower)',
        )
        self.add_change_arguments(parser)
        return parser

    def add_change_arguments(self, parser):
        raise NotImplementedError

    def change_from(self, parsed_args):
        raise NotImplementedError

    def _parallel(self, parsed_args):
        if parsed_args.parallel:
            return parsed_args.parallel
        config = self.app.client_manager.sdk_connection.config
        # clouds.yaml values reach us as strings.
        concurrency = int(config.get_concurrency('compute') or 0)
        return min(DEFAULT_PARALLEL, concurrency or DEFAULT_PARALLEL)

    def _project_id(self, parsed_args):
        if not parsed_args.project:
            return None
        from openstackclient.identity import common as identity_common

        try:
            return identity_common.find_project_id_sdk(
                self.app.client_manager.sdk_connection.identity,
                parsed_args.project,
                parsed_args.project_domain,
            )
        except exceptions.CommandError as error:
            # OSC's own message for an unknown project is empty.
            reason = f': {error}' if str(error) else ''
            raise exceptions.CommandError(
                f'No project with name or ID {parsed_args.project!r}{reason}'
            ) from error

    def take_action(self, parsed_args):
        from osc_hypervisor_servers import engine
        from osc_hypervisor_servers import progress
        from osc_hypervisor_servers import retry

        change = self.change_from(parsed_args)
        selection = engine.Selection(
            hypervisors=tuple(parsed_args.hypervisors),
            matching=tuple(parsed_args.matching),
            status=parsed_args.status,
            project_id=self._project_id(parsed_args),
        )
        progress_line = None
        if not parsed_args.dry_run:
            progress_line = progress.for_stream(sys.stderr)
        try:
            outcome = engine.run(
                self.app.client_manager.compute,
                selection,
                change,
                retry.RetryPolicy(),
                dry_run=parsed_args.dry_run,
                parallel=self._parallel(parsed_args),
                progress=progress_line,
            )
        finally:
            if progress_line is not None:
                progress_line.close()
        self.report = outcome.report

        show_hypervisor = len(outcome.hypervisors) > 1 or bool(
            parsed_args.matching
        )
        columns = ['ID', 'Name', 'Project']
        if show_hypervisor:
            columns.append('Hypervisor')
        columns += ['Result', 'Details']
        rows = []
        for result in outcome.report.results:
            server = result.server
            row = [server.id, server.name, server.project_id]
            if show_hypervisor:
                row.append(server.hypervisor)
            rows.append(row + [result.result, result.details])
        return columns, rows

    def run(self, parsed_args):
        exit_code = super().run(parsed_args)
        if self.report.interrupted:
            LOG.warning('Interrupted: %s', self.report.summary())
            return INTERRUPTED_EXIT_CODE
        if self.report.failed:
            raise exceptions.CommandError(self.report.summary())
        return exit_code


class SetHypervisorServers(_HypervisorServersCommand):
    _description = (
        'Set properties, description or tags on every server of hypervisor(s)'
    )

    def add_change_arguments(self, parser):
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
            '(supported by --os-compute-api-version 2.19 or above)',
        )
        _add_tag_option(parser, 'add to')

    def change_from(self, parsed_args):
        from osc_hypervisor_servers import changes

        return changes.change_to_set(
            properties=parsed_args.properties,
            description=parsed_args.description,
            tags=parsed_args.tags,
        )


class UnsetHypervisorServers(_HypervisorServersCommand):
    _description = (
        'Unset properties, description or tags on every server of '
        'hypervisor(s)'
    )

    def add_change_arguments(self, parser):
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
            '(supported by --os-compute-api-version 2.19 or above)',
        )
        _add_tag_option(parser, 'remove from')

    def change_from(self, parsed_args):
        from osc_hypervisor_servers import changes

        return changes.change_to_unset(
            property_keys=parsed_args.properties,
            description=parsed_args.description,
            tags=parsed_args.tags,
        )
