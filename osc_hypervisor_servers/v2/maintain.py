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

"""``openstack hypervisor servers maintain``: a thin front end of
``moves.maintain``, with the shared options of the other verbs.
"""

from __future__ import annotations

import argparse

from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import maintain
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.v2 import arguments
from osc_hypervisor_servers.v2 import hypervisor_servers

#: The most hypervisors drained together.
MAX_HOSTS_AT_ONCE = 64


def hosts_at_once(value: str) -> int:
    """argparse type of --hosts-at-once."""
    return arguments.bounded_count(value, MAX_HOSTS_AT_ONCE)


def _add_cycle(parser: argparse.ArgumentParser) -> None:
    """The hypervisors, the commands, and how the turns go."""
    parser.add_argument(
        'hypervisors',
        metavar='<hypervisor>',
        nargs='*',
        help='Hypervisor to maintain, by ID or exact hostname, in the '
        'order given (not with --resume)',
    )
    parser.add_argument(
        '--exec',
        metavar='<command>',
        dest='command',
        required=True,
        help='Command to run through the shell for each hypervisor once '
        'it is drained, with HYPERVISOR_NAME, COMPUTE_HOST and '
        'HYPERVISOR_SERVERS_JOURNAL set; its output goes to stderr, each '
        'line prefixed with the hypervisor. It must exit 0 for the run '
        'to go on',
    )
    parser.add_argument(
        '--check',
        metavar='<command>',
        help='Health gate: once the compute service is back, run this '
        'command (same environment) until it exits 0, within --timeout',
    )
    parser.add_argument(
        '--hosts-at-once',
        metavar='<count>',
        type=hosts_at_once,
        default=1,
        help='Hypervisors drained together, from 1 to '
        f'{MAX_HOSTS_AT_ONCE} (default: 1); never onto one another. The '
        'command runs for each of them, one after the other',
    )
    parser.add_argument(
        '--no-return',
        action='store_true',
        help='Leave the servers where their drain put them; only enable '
        'the compute services again (default: move them home)',
    )
    parser.add_argument(
        '--stop-on-failure',
        action='store_true',
        help='Stop at the first hypervisor that cannot be drained '
        '(default: give it back, skip it and go on)',
    )
    parser.add_argument(
        '--resume',
        metavar='<journal>',
        help='Go on with the run of this journal (killed, interrupted or '
        'stopped) where it stopped; --exec and --check must be the ones '
        'it recorded, the other options are its own',
    )


class MaintainHypervisorServers(hypervisor_servers.ServersCommand):
    _description = (
        'Take hypervisors through maintenance one after another: for each '
        'one, drain it as "migrate --disable-service" does, run <command> '
        'once it is empty and disabled, wait until it is back (the command '
        'exited 0, its compute service reported since and is up, --check '
        'passes), then enable its service and move its servers home. A '
        'hypervisor whose drain cannot finish is never handed to the '
        'command: its servers go back, it is skipped and the run goes on. '
        'A command that fails, or a hypervisor not back within --timeout, '
        'stops the run with that hypervisor drained. The run is journaled: '
        '"hypervisor servers restore <journal>" undoes what is left, '
        '--resume goes on where a killed run stopped.'
    )

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        _add_cycle(parser)
        arguments.add_timeout(
            parser,
            'How long to wait for each server, from the start of its move, '
            'and for each hypervisor to be back, from the end of its command '
            f'(default: {invocation.DEFAULT_TIMEOUT:g})',
        )
        arguments.add_move_kind(parser)
        arguments.add_run(parser, arguments.DRAIN_PARALLEL_HELP)
        arguments.add_journal(parser)
        return parser

    def perform(self, parsed_args: argparse.Namespace) -> reporting.Outcome:
        mode: kinds.Mode = parsed_args.kind
        options = move_options.MaintainOptions(
            tuple(parsed_args.hypervisors),
            parsed_args.command,
            move_options.Waiting(timeout=parsed_args.timeout),
            arguments.run_options(
                self.app,
                parsed_args,
                move_options.DEFAULT_PARALLEL_PER_HOST,
                journal=parsed_args.journal,
                moves_per_host=True,
            ),
            mode=mode,
            check=parsed_args.check,
            hosts_at_once=parsed_args.hosts_at_once,
            no_return=parsed_args.no_return,
            stop_on_failure=parsed_args.stop_on_failure,
            resume=parsed_args.resume,
        )
        with arguments.running(self.app, parsed_args, moves=True) as context:
            return maintain.maintain(context, options)
