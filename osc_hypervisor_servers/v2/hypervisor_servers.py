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
``migrate`` and ``evacuate`` (``maintain`` is in :mod:`.maintain`).

Thin front ends: each builds its parser from the shared helpers
(:mod:`.arguments`), turns what it parsed into its verb's options, calls
the verb's module (``marks.verbs``, ``moves.drain``, ``moves.restore``,
``moves.maintain``) and prints one row per server (:mod:`.output`).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from osc_lib import exceptions
from osc_lib.cli import parseractions
from osc_lib.command import command

from osc_hypervisor_servers import version
from osc_hypervisor_servers.journal import schema
from osc_hypervisor_servers.journal import store
from osc_hypervisor_servers.marks import change_request
from osc_hypervisor_servers.marks import mark_options
from osc_hypervisor_servers.marks import verbs as mark_verbs
from osc_hypervisor_servers.moves import drain
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import maintain
from osc_hypervisor_servers.moves import move_options
from osc_hypervisor_servers.moves import restore as move_restore
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.runner import reporting
from osc_hypervisor_servers.runner import retrying
from osc_hypervisor_servers.v2 import arguments
from osc_hypervisor_servers.v2 import output


class ServersCommand(command.Lister):
    """What every verb shares: one row per server, then the journal and
    an exit code that says whether every server ended as asked.
    """

    def perform(self, parsed_args: argparse.Namespace) -> reporting.Outcome:
        """Run the verb with the parsed options."""
        raise NotImplementedError

    def take_action(self, parsed_args: argparse.Namespace) -> output.Rows:
        try:
            self.outcome = self.perform(parsed_args)
        except errors.Refused as error:
            raise exceptions.CommandError(str(error)) from error
        except retrying.NovaUnreachable as error:
            # Once a verb changes anything, it reports rows instead.
            raise exceptions.CommandError(
                f'{error}; nothing was changed'
            ) from error
        return output.table(self.outcome)

    def run(self, parsed_args: argparse.Namespace) -> int:
        # cliff's run prints the table that take_action returns; how the
        # run ended comes after it.
        super().run(parsed_args)
        return output.conclude(self.outcome, self.app.stderr)


class SetHypervisorServers(ServersCommand):
    _description = (
        'Set properties, description or tags on every server of '
        'hypervisor(s). The values each server had before are written to '
        'a journal first; "hypervisor servers restore" puts them back.'
    )

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        arguments.add_selection(parser)
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
        arguments.add_tag(parser, 'add to')
        arguments.add_timeout(parser, arguments.TASK_TIMEOUT_HELP)
        arguments.add_run(parser, arguments.PARALLEL_HELP)
        arguments.add_journal(parser)
        return parser

    def perform(self, parsed_args: argparse.Namespace) -> reporting.Outcome:

        request = change_request.to_set(
            properties=parsed_args.properties,
            description=parsed_args.description,
            tags=parsed_args.tags,
        )
        return _change(self, parsed_args, 'set', request)


class UnsetHypervisorServers(ServersCommand):
    _description = (
        'Unset properties, description or tags on every server of '
        'hypervisor(s). The values removed are written to a journal first; '
        '"hypervisor servers restore" puts them back.'
    )

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        arguments.add_selection(parser)
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
        arguments.add_tag(parser, 'remove from')
        arguments.add_timeout(parser, arguments.TASK_TIMEOUT_HELP)
        arguments.add_run(parser, arguments.PARALLEL_HELP)
        arguments.add_journal(parser)
        return parser

    def perform(self, parsed_args: argparse.Namespace) -> reporting.Outcome:

        request = change_request.to_unset(
            property_keys=parsed_args.properties,
            description=parsed_args.description,
            tags=parsed_args.tags,
        )
        return _change(self, parsed_args, 'unset', request)


def _change(
    command: ServersCommand,
    parsed_args: argparse.Namespace,
    verb: mark_options.Verb,
    request: change_request.ChangeRequest,
) -> reporting.Outcome:
    """``set`` and ``unset``, from their parsed options."""
    options = mark_options.ChangeOptions(
        verb,
        arguments.selection_of(command.app, parsed_args),
        request,
        parsed_args.timeout,
        arguments.run_options(
            command.app,
            parsed_args,
            invocation.DEFAULT_PARALLEL,
            journal=parsed_args.journal,
        ),
    )
    with arguments.running(command.app, parsed_args) as context:
        return mark_verbs.change(context, options)


class RestoreHypervisorServers(ServersCommand):
    _description = (
        'Undo a journaled run of any verb. After set, unset or restore of '
        'marks: on each server of the journal, put back every value the run '
        'replaced, where the server still holds what the run wrote; a value '
        'changed since is kept and its row says so. After migrate or '
        'evacuate: enable again each compute service the run disabled, if '
        'still disabled with its reason, and move each server back to the '
        'compute host it was on, by live migration when it runs and by cold '
        'migration when it is stopped, only if it is still where the run '
        'put it; a server moved since is kept where it is. After maintain: '
        'the same for every hypervisor the run left drained. A server '
        'deleted since is reported as gone. A restore is journaled too, so '
        'it can itself be undone.'
    )

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
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
        arguments.add_waiting(
            parser,
            'How long to wait for each server: its move back, or a task '
            'under way before changing its properties (default: '
            f'{invocation.DEFAULT_TIMEOUT:g})',
        )
        arguments.add_preflight(parser)
        arguments.add_run(parser, arguments.RESTORE_PARALLEL_HELP)
        arguments.add_journal(parser)
        return parser

    def perform(self, parsed_args: argparse.Namespace) -> reporting.Outcome:

        path = parsed_args.journal_to_restore
        document = store.read(path)
        if document.verb == 'maintain':
            return _restore_moves(
                self, parsed_args, document, maintain.restore_run
            )
        if document.wing == 'moves':
            return _restore_moves(
                self, parsed_args, document, move_restore.restore
            )
        options = mark_options.RestoreOptions(
            path,
            any_endpoint=parsed_args.any_endpoint,
            timeout=parsed_args.timeout,
            run=arguments.run_options(
                self.app,
                parsed_args,
                invocation.DEFAULT_PARALLEL,
                journal=parsed_args.journal,
            ),
        )
        with arguments.running(self.app, parsed_args) as context:
            return mark_verbs.restore(context, options, document)


def _restore_moves(
    command: ServersCommand,
    parsed_args: argparse.Namespace,
    document: schema.Document,
    verb: Callable[
        [
            invocation.RunContext,
            move_options.RestoreOptions,
            schema.Document,
        ],
        reporting.Outcome,
    ],
) -> reporting.Outcome:
    """``restore`` of a journal of ``migrate``, ``evacuate`` or
    ``maintain``.
    """
    options = move_options.RestoreOptions(
        parsed_args.journal_to_restore,
        any_endpoint=parsed_args.any_endpoint,
        waiting=move_options.Waiting(
            wait=parsed_args.wait, timeout=parsed_args.timeout
        ),
        preflight=arguments.preflight_of(parsed_args),
        run=arguments.run_options(
            command.app,
            parsed_args,
            move_options.DEFAULT_PARALLEL_PER_HOST,
            journal=parsed_args.journal,
            moves_per_host=True,
        ),
    )
    with arguments.running(command.app, parsed_args, moves=True) as context:
        return verb(context, options, document)


class MigrateHypervisorServers(ServersCommand):
    _description = (
        'Move every server off hypervisor(s), and say where each one went. '
        'ACTIVE and PAUSED servers are live migrated, SHUTOFF ones cold '
        'migrated and confirmed, so that each ends in its power state of '
        'before; servers in other states, or with a task under way, are '
        'skipped with the reason. A server is "migrated" only when its '
        'migration record says the move completed and it is on another '
        'hypervisor. Exits 1 unless every server left its hypervisor.'
    )

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        arguments.add_selection(parser)
        arguments.add_drain(parser)
        arguments.add_waiting(parser, arguments.TIMEOUT_HELP)
        arguments.add_preflight(parser)
        arguments.add_move_kind(parser)
        parser.add_argument(
            '--no-confirm',
            dest='confirm',
            action='store_false',
            help='Leave cold migrations in VERIFY_RESIZE for you to confirm '
            'or revert (default: confirm them)',
        )
        arguments.add_run(parser, arguments.DRAIN_PARALLEL_HELP)
        arguments.add_journal(parser)
        return parser

    def perform(self, parsed_args: argparse.Namespace) -> reporting.Outcome:
        mode: kinds.Mode = parsed_args.kind
        return _drain(self, parsed_args, mode, confirm=parsed_args.confirm)


class EvacuateHypervisorServers(ServersCommand):
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

    def get_parser(self, prog_name: str) -> argparse.ArgumentParser:
        parser = super().get_parser(prog_name)
        arguments.add_selection(parser)
        arguments.add_drain(parser)
        arguments.add_waiting(parser, arguments.TIMEOUT_HELP)
        arguments.add_preflight(parser)
        arguments.add_run(parser, arguments.DRAIN_PARALLEL_HELP)
        arguments.add_journal(parser)
        return parser

    def perform(self, parsed_args: argparse.Namespace) -> reporting.Outcome:
        return _drain(self, parsed_args, 'evacuate', confirm=True)


def _drain(
    command: ServersCommand,
    parsed_args: argparse.Namespace,
    mode: kinds.Mode,
    confirm: bool,
) -> reporting.Outcome:
    """``migrate`` and ``evacuate``, from their parsed options."""

    if parsed_args.disable_reason and not parsed_args.disable_service:
        raise exceptions.CommandError(
            '--disable-reason goes with --disable-service'
        )
    options = move_options.DrainOptions(
        arguments.selection_of(command.app, parsed_args),
        mode,
        target=parsed_args.host,
        disable_service=parsed_args.disable_service,
        disable_reason=parsed_args.disable_reason,
        waiting=move_options.Waiting(
            wait=parsed_args.wait,
            confirm=confirm,
            timeout=parsed_args.timeout,
        ),
        preflight=arguments.preflight_of(parsed_args),
        run=arguments.run_options(
            command.app,
            parsed_args,
            move_options.DEFAULT_PARALLEL_PER_HOST,
            journal=parsed_args.journal,
            moves_per_host=True,
        ),
    )
    with arguments.running(command.app, parsed_args, moves=True) as context:
        return drain.drain(context, options)
