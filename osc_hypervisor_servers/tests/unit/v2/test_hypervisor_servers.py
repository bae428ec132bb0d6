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

import csv
import datetime
import io
import json
import os
from unittest import mock

import fixtures
from openstack.compute.v2 import hypervisor as sdk_hypervisor
from osc_lib import exceptions
from osc_lib.test import base as osc_test_base

from osc_hypervisor_servers.runner import concurrency
from osc_hypervisor_servers.tests.unit import fakes
from osc_hypervisor_servers.v2 import arguments
from osc_hypervisor_servers.v2 import hypervisor_servers

HYPERVISOR_1 = fakes.make_hypervisor('compute-1')
HYPERVISOR_10 = fakes.make_hypervisor('compute-10')
HYPERVISOR_2 = fakes.make_hypervisor('compute-2')


class HypervisorServersTestCase(fakes.TestCommand):
    command_class: type[hypervisor_servers.ServersCommand]
    #: Calls before this index are not the command's under test.
    calls_seen = 0

    def setUp(self):
        super().setUp()
        self.cmd = self.command_class(self.app, None)  # type: ignore[arg-type]
        self.compute.hypervisors.return_value = [HYPERVISOR_1, HYPERVISOR_10]
        self.bare = fakes.nova_server(name='a-bare')
        self.marked = fakes.nova_server(
            name='b-marked',
            metadata={'maint': 'yes'},
            tags=['drain'],
            description='host reboot',
        )
        self.stranger = fakes.nova_server('compute-10', name='c-stranger')
        self.nova.add(self.marked, self.bare, self.stranger)

    def run_command(self, argv, command=None):
        """Run the command as OSC does, parser to exit code; return the
        exit code and stdout.
        """
        command = command or self.cmd
        parsed_args = self.check_parser(command, argv, [])
        self.stdout = self.app.stdout = io.StringIO()
        self.stderr = self.app.stderr = io.StringIO()
        exit_code = command.run(parsed_args)
        return exit_code, self.stdout.getvalue()

    def journals(self):
        directory = os.path.join(
            self.state_home, 'osc-hypervisor-servers', 'journal'
        )
        if not os.path.isdir(directory):
            return []
        return sorted(
            os.path.join(directory, name) for name in os.listdir(directory)
        )

    def run_table(self, argv):
        """The table a run prints (as csv): its columns and rows.

        A run that ends with an error after its table (a server failed)
        keeps it in ``ended_with``; one refused before it raises.
        """
        self.ended_with = None
        try:
            self.exit_code, output = self.run_command([*argv, '-f', 'csv'])
        except exceptions.CommandError as error:
            if not self.stdout.getvalue():
                raise
            self.ended_with = error
            output = self.stdout.getvalue()
        columns, *rows = csv.reader(io.StringIO(output))
        return columns, rows

    def writes(self):
        return [
            call
            for call in self.compute.mock_calls[self.calls_seen :]
            if call[0]
            in (
                'set_metadata',
                'update_server',
                'add_tag_to_server',
                'remove_tag_from_server',
                'delete_server_metadata',
            )
        ]

    def assertRefusedWithoutCalls(self, argv, *expected_words):
        parsed_args = self.check_parser(self.cmd, argv, [])
        self.app.stdout = self.app.stderr = io.StringIO()
        error = self.assertRaises(
            exceptions.CommandError, self.cmd.run, parsed_args
        )
        self.assertEqual('', self.app.stdout.getvalue())
        for word in expected_words:
            self.assertIn(word, str(error))
        # Version discovery is the only call allowed before refusing.
        self.assertEqual(
            [],
            [
                call
                for call in self.compute.mock_calls
                if call[0] != 'get_endpoint_data'
            ],
        )


class TestSetHypervisorServers(HypervisorServersTestCase):
    command_class = hypervisor_servers.SetHypervisorServers

    def test_parser(self):
        parsed_args = self.check_parser(
            self.cmd,
            [
                'compute-1',
                '--property', 'a=1',
                '--property', 'b=2',
                '--description', 'd',
                '--tag', 't1',
                '--tag', 't2',
                '--parallel', '3',
                '--dry-run',
                '--status', 'active',
            ],
            [
                ('hypervisors', ['compute-1']),
                ('properties', {'a': '1', 'b': '2'}),
                ('description', 'd'),
                ('tags', ['t1', 't2']),
                ('parallel', 3),
                ('dry_run', True),
                ('status', 'ACTIVE'),
                ('matching', []),
            ],
        )  # fmt: skip
        self.assertIsNotNone(parsed_args)

    def test_parser_rejects(self):
        for argv in [
            ['compute-1', '--property', 'novalue'],
            ['compute-1', '--property', '=v'],
            ['compute-1', '--tag', 't', '--parallel', '0'],
            ['compute-1', '--tag', 't', '--parallel', '65'],
            ['compute-1', '--tag', 't', '--parallel', 'many'],
            ['compute-1', '--tag', 't', '--status', 'sleepy'],
        ]:
            self.assertRaises(
                osc_test_base.ParserException,
                self.check_parser,
                self.cmd,
                argv,
                [],
            )

    def test_set_all_three(self):
        columns, rows = self.run_table(
            [
                'compute-1',
                '--property', 'maint=yes',
                '--description', 'host reboot',
                '--tag', 'drain',
            ]
        )  # fmt: skip
        self.assertEqual(
            ['ID', 'Name', 'Project', 'Result', 'Details'], columns
        )
        self.assertEqual(
            [
                [
                    self.bare['id'],
                    'a-bare',
                    'project-a',
                    'changed',
                    "set description 'host reboot', set property "
                    "maint=yes, add tag drain",
                ],
                [self.marked['id'], 'b-marked', 'project-a', 'unchanged', ''],
            ],
            rows,
        )
        self.assertEqual(
            [
                {
                    'all_tenants': '1',
                    'host': 'compute-1',
                    'node': r'^compute\-1$',
                }
            ],
            self.nova.listings,
        )
        self.assertEqual(
            [
                mock.call.update_server(
                    self.bare['id'], description='host reboot'
                ),
                fakes.metadata_merge(
                    self.compute, self.bare['id'], {'maint': 'yes'}
                ),
                mock.call.add_tag_to_server(self.bare['id'], 'drain'),
            ],
            self.writes(),
        )

    def test_journal_written_and_named_on_stderr(self):
        exit_code, output = self.run_command(
            ['compute-1', '--description', 'maintenance', '--tag', 'drain']
        )
        self.assertEqual(0, exit_code)
        (path,) = self.journals()
        self.assertEqual(
            f'Journal of this run: {path}\n'
            "Results recorded in it: every server's\n"
            f'To undo it: openstack hypervisor servers restore {path}\n',
            self.stderr.getvalue(),
        )
        with open(path) as journal_file:
            document = json.load(journal_file)
        self.assertEqual(
            {
                self.bare['id']: 'changed',
                self.marked['id']: 'changed',
            },
            {server['id']: server['result'] for server in document['servers']},
        )

    def test_journal_path_chosen(self):
        path = os.path.join(self.state_home, 'before-reboot.json')
        self.run_command(['compute-1', '--tag', 'drain2', '--journal', path])
        self.assertTrue(os.path.exists(path))
        self.assertEqual([], self.journals())

    def test_journal_refused_means_no_write(self):
        path = os.path.join(self.state_home, 'absent-dir', 'j.json')
        self.assertRaisesRegex(
            exceptions.CommandError,
            f'Cannot write the journal {path}: ',
            self.run_table,
            ['compute-1', '--tag', 't', '--journal', path],
        )
        self.assertEqual([], self.writes())

    def test_no_journal_without_writes(self):
        self.nova.replace(self.marked)
        self.run_command(['compute-1', '--tag', 'drain'])
        self.run_command(['compute-1', '--tag', 'new', '--dry-run'])
        self.assertEqual([], self.journals())
        self.assertEqual('', self.stderr.getvalue())

    def test_rerun_makes_no_write(self):
        self.nova.replace(self.marked)
        exit_code, output = self.run_command(
            ['compute-1', '--property', 'maint=yes', '--tag', 'drain']
        )
        self.assertEqual(0, exit_code)
        self.assertEqual([], self.writes())
        self.assertIn('unchanged', output)

    def test_dry_run_writes_nothing(self):
        columns, rows = self.run_table(
            ['compute-1', '--tag', 'drain', '--dry-run']
        )
        self.assertEqual(
            [
                [
                    self.bare['id'],
                    'a-bare',
                    'project-a',
                    'would change',
                    'add tag drain',
                ],
                [self.marked['id'], 'b-marked', 'project-a', 'unchanged', ''],
            ],
            rows,
        )
        self.assertEqual([], self.writes())

    def test_failures_print_the_table_then_exit_non_zero(self):
        self.compute.set_metadata.side_effect = fakes.http_error(
            409,
            "Cannot 'update metadata' instance while it is in vm_state error",
        )
        parsed_args = self.check_parser(
            self.cmd, ['compute-1', '--property', 'k=v'], []
        )
        self.app.stdout = io.StringIO()
        error = self.assertRaises(
            exceptions.CommandError, self.cmd.run, parsed_args
        )
        self.assertEqual('2 of 2 servers failed', str(error))
        table = self.app.stdout.getvalue()
        self.assertIn('vm_state error', table)
        self.assertIn('a-bare', table)
        self.assertIn('b-marked', table)

    def test_no_servers_is_an_empty_table(self):
        self.nova.replace()
        exit_code, output = self.run_command(['compute-1', '--tag', 't'])
        self.assertEqual(0, exit_code)
        self.assertEqual([], self.writes())

    def test_several_hypervisors_show_which(self):
        self.useFixture(
            fixtures.MockPatchObject(
                sdk_hypervisor.Hypervisor, 'fetch', return_value=HYPERVISOR_10
            )
        )
        columns, rows = self.run_table(
            ['compute-1', HYPERVISOR_10.id, '--tag', 't']
        )
        self.assertEqual(
            ['ID', 'Name', 'Project', 'Hypervisor', 'Result', 'Details'],
            columns,
        )
        self.assertEqual(
            [
                ('a-bare', 'compute-1'),
                ('b-marked', 'compute-1'),
                ('c-stranger', 'compute-10'),
            ],
            [(row[1], row[3]) for row in rows],
        )

    def test_matching_opt_in(self):
        columns, rows = self.run_table(
            ['--matching', 'compute-1', '--tag', 't']
        )
        self.assertIn('Hypervisor', columns)
        self.assertEqual(3, len(rows))

    def test_no_hypervisor_given(self):
        self.assertRefusedWithoutCalls(['--tag', 't'], '--matching')

    def test_unknown_hypervisor(self):
        self.compute.hypervisors.return_value = [HYPERVISOR_10]
        parsed_args = self.check_parser(
            self.cmd, ['compute-1', '--tag', 't'], []
        )
        error = self.assertRaises(
            exceptions.CommandError, self.cmd.run, parsed_args
        )
        self.assertIn("'compute-1'", str(error))
        self.assertEqual([], self.writes())
        self.assertEqual([], self.nova.listings)

    def test_not_admin(self):
        self.compute.hypervisors.side_effect = fakes.http_error(403)
        parsed_args = self.check_parser(
            self.cmd, ['compute-1', '--tag', 't'], []
        )
        error = self.assertRaises(
            exceptions.CommandError, self.cmd.run, parsed_args
        )
        self.assertIn('admin token', str(error))
        self.assertEqual([], self.nova.listings)

    def test_validation_errors_make_no_call(self):
        for argv, words in [
            (['compute-1'], ['Nothing to set']),
            (['compute-1', '--property', 'a/b=1'], ["'a/b'"]),
            (['compute-1', '--property', 'k=' + 'v' * 256], ['256']),
            (['compute-1', '--tag', 'a,b'], ["'a,b'"]),
            (['compute-1', '--tag', 't' * 61], ['1 to 60']),
            (['compute-1', '--tag', '..'], ['URL path']),
            (['compute-1', '--description', 'a\nb'], ['U+000A']),
        ]:
            self.assertRefusedWithoutCalls(argv, *words)

    def test_microversion_pinned_too_low(self):
        for version, argv, needed in [
            ('2.18', ['--description', 'd'], '2.19'),
            ('2.25', ['--tag', 't'], '2.26'),
            ('2.52', ['--property', 'a=b'], '2.53'),
        ]:
            fakes.set_compute_api_version(self.compute, version)
            parsed_args = self.check_parser(self.cmd, ['compute-1', *argv], [])
            error = self.assertRaises(
                exceptions.CommandError, self.cmd.run, parsed_args
            )
            self.assertIn(f'--os-compute-api-version {needed}', str(error))
            self.compute.hypervisors.assert_not_called()
            self.assertEqual([], self.writes())

    def test_microversion_at_the_boundary(self):
        fakes.set_compute_api_version(self.compute, '2.53')
        columns, rows = self.run_table(
            ['compute-1', '--description', 'd', '--tag', 't']
        )
        self.assertEqual(['changed', 'changed'], [row[3] for row in rows])

    def test_negotiated_microversion_too_old(self):
        fakes.set_compute_api_version(self.compute, '2.25', pinned=False)
        self.assertRefusedWithoutCalls(['compute-1', '--tag', 't'], '2.26')

    def test_parallel_default_respects_cloud_concurrency(self):
        config = self.app.client_manager.sdk_connection.config
        parsed_args = self.check_parser(
            self.cmd, ['compute-1', '--tag', 't'], []
        )

        def parallel():
            return arguments.run_options(
                self.app,  # type: ignore[arg-type]
                parsed_args,
                10,
            ).parallel

        self.assertEqual(10, parallel())
        config.get_concurrency.return_value = '3'
        self.assertEqual(3, parallel())
        parsed_args = self.check_parser(
            self.cmd, ['compute-1', '--tag', 't', '--parallel', '32'], []
        )
        self.assertEqual(32, parallel())

    def test_project_filter(self):
        with mock.patch(
            'openstackclient.identity.common.find_project_id_sdk',
            return_value='project-a-id',
        ) as find_project:
            self.run_table(
                [
                    'compute-1',
                    '--tag',
                    't',
                    '--project',
                    'a',
                    '--status',
                    'ACTIVE',
                ]
            )
        find_project.assert_called_once_with(
            self.app.client_manager.sdk_connection.identity, 'a', None
        )
        self.assertEqual(
            [
                {
                    'all_tenants': '1',
                    'host': 'compute-1',
                    'node': r'^compute\-1$',
                    'status': 'ACTIVE',
                    'project_id': 'project-a-id',
                }
            ],
            self.nova.listings,
        )

    def test_unknown_project(self):
        with mock.patch(
            'openstackclient.identity.common.find_project_id_sdk',
            side_effect=exceptions.CommandError(),
        ):
            self.assertRefusedWithoutCalls(
                ['compute-1', '--tag', 't', '--project', 'nosuch'],
                "No project with name or ID 'nosuch'",
            )


class TestRestoreHypervisorServers(HypervisorServersTestCase):
    command_class = hypervisor_servers.RestoreHypervisorServers

    def set_then_restore(self, servers_now, argv=()):
        """Mark compute-1's servers, then restore with ``servers_now``
        as the listing of compute-1 shows them.
        """
        setter = hypervisor_servers.SetHypervisorServers(self.app, None)  # type: ignore[arg-type]
        self.run_command(
            ['compute-1', '--description', 'down', '--property', 'maint=no'],
            command=setter,
        )
        (path,) = self.journals()
        self.calls_seen = len(self.compute.mock_calls)
        self.nova.replace(*servers_now)
        self.nova.listings.clear()
        return path, self.run_table([path, '--parallel', '1', *argv])

    def test_puts_back_what_the_run_replaced(self):
        bare_now = fakes.nova_server(
            server_id=self.bare['id'],
            name='a-bare',
            description='down',
            metadata={'maint': 'no'},
        )
        marked_now = fakes.nova_server(
            server_id=self.marked['id'],
            name='b-marked',
            # Its owner changed the description since.
            description='owner wrote this',
            metadata={'maint': 'no'},
            tags=['drain'],
        )
        path, (columns, rows) = self.set_then_restore([bare_now, marked_now])
        self.assertEqual(
            ['ID', 'Name', 'Project', 'Hypervisor', 'Result', 'Details'],
            columns,
        )
        self.assertEqual(
            [
                [
                    self.bare['id'],
                    'a-bare',
                    'project-a',
                    'compute-1',
                    'changed',
                    "unset description (was 'down'), "
                    'unset property maint (was no)',
                ],
                [
                    self.marked['id'],
                    'b-marked',
                    'project-a',
                    'compute-1',
                    'changed',
                    'set property maint=yes (was no); kept description '
                    "'owner wrote this': changed since the run",
                ],
            ],
            rows,
        )
        self.assertEqual(
            [
                fakes.metadata_merge(
                    self.compute, self.marked['id'], {'maint': 'yes'}
                ),
                mock.call.update_server(self.bare['id'], description=None),
                mock.call.delete_server_metadata(self.bare['id'], ['maint']),
            ],
            self.writes(),
        )
        # The restore is journaled too.
        self.assertEqual(2, len(self.journals()))

    def test_servers_moved_or_gone(self):
        moved = fakes.nova_server(
            'compute-2',
            server_id=self.bare['id'],
            name='a-bare',
            description='down',
            metadata={'maint': 'no'},
        )
        path, (columns, rows) = self.set_then_restore([moved])
        self.assertEqual(
            [
                ('b-marked', 'compute-1', 'gone'),
                ('a-bare', 'compute-2', 'changed'),
            ],
            [(row[1], row[3], row[4]) for row in rows],
        )
        self.assertEqual('the server no longer exists', rows[0][5])

    def test_a_server_of_another_project_is_not_touched(self):
        # The journal was edited: its ID now names an admin's server.
        admins = fakes.nova_server(
            server_id=self.bare['id'],
            name='a-bare',
            project_id='admin',
            description='down',
            metadata={'maint': 'no'},
        )
        path, (columns, rows) = self.set_then_restore([admins])
        row = next(row for row in rows if row[0] == self.bare['id'])
        self.assertEqual('skipped', row[4])
        self.assertEqual(
            'not touched: the server is in project admin, the journal '
            'recorded project project-a',
            row[5],
        )
        self.assertEqual([], self.writes())

    def test_dry_run_writes_nothing(self):
        bare_now = fakes.nova_server(
            server_id=self.bare['id'], name='a-bare', description='down'
        )
        path, (columns, rows) = self.set_then_restore(
            [bare_now], ['--dry-run']
        )
        self.assertEqual('would change', rows[0][4])
        self.assertEqual([], self.writes())
        self.assertEqual(1, len(self.journals()))

    def test_another_cloud_is_refused(self):
        self.compute.get_endpoint.return_value = 'https://other.example/v2.1'
        path, _rows = self.set_then_restore([])
        self.compute.get_endpoint.return_value = fakes.ENDPOINT + '-x'
        error = self.assertRaises(
            exceptions.CommandError, self.run_table, [path]
        )
        self.assertIn('https://other.example/v2.1', str(error))
        self.assertIn('--any-endpoint', str(error))
        self.nova.listings.clear()
        self.run_table([path, '--any-endpoint'])
        self.assertEqual(1, len(self.nova.listings))

    def test_unreadable_journal(self):
        self.assertRefusedWithoutCalls(
            [os.path.join(self.state_home, 'nope.json')], 'Cannot read'
        )


class TestUnsetHypervisorServers(HypervisorServersTestCase):
    command_class = hypervisor_servers.UnsetHypervisorServers

    def test_parser(self):
        self.check_parser(
            self.cmd,
            ['compute-1', '--property', 'a', '--description', '--tag', 't'],
            [
                ('properties', ['a']),
                ('description', True),
                ('tags', ['t']),
            ],
        )

    def test_unset(self):
        columns, rows = self.run_table(
            [
                'compute-1',
                '--property', 'maint',
                '--description',
                '--tag', 'drain',
            ]
        )  # fmt: skip
        self.assertEqual(
            [
                [self.bare['id'], 'a-bare', 'project-a', 'unchanged', ''],
                [
                    self.marked['id'],
                    'b-marked',
                    'project-a',
                    'changed',
                    "unset description (was 'host reboot'), unset "
                    'property maint (was yes), remove tag drain',
                ],
            ],
            rows,
        )
        self.assertEqual(
            [
                mock.call.update_server(self.marked['id'], description=None),
                mock.call.delete_server_metadata(self.marked['id'], ['maint']),
                mock.call.remove_tag_from_server(self.marked['id'], 'drain'),
            ],
            self.writes(),
        )

    def test_never_deletes_all_metadata(self):
        # delete_server_metadata(server) without keys would wipe them all.
        self.nova.replace(
            fakes.nova_server(metadata={'maint': 'yes', 'owner': 'kept'})
        )
        self.run_table(['compute-1', '--property', 'maint'])
        (delete,) = self.writes()
        self.assertEqual('delete_server_metadata', delete[0])
        server_id, keys = delete[1]
        self.assertEqual(['maint'], keys)

    def test_validation_errors_make_no_call(self):
        for argv, words in [
            (['compute-1'], ['Nothing to unset']),
            (['compute-1', '--property', 'a/b'], ["'a/b'"]),
            (['compute-1', '--property', '..'], ['URL path']),
            (['compute-1', '--tag', 'a/b'], ["'a/b'"]),
        ]:
            self.assertRefusedWithoutCalls(argv, *words)

    def test_microversion_pinned_too_low(self):
        fakes.set_compute_api_version(self.compute, '2.18')
        self.assertRefusedWithoutCalls(['compute-1', '--description'], '2.19')


class DrainTestCase(HypervisorServersTestCase):
    def setUp(self):
        super().setUp()
        self.placement = fakes.FakePlacement()
        for hypervisor in (HYPERVISOR_1, HYPERVISOR_10):
            self.placement.add_node(hypervisor)
        self.app.client_manager.sdk_connection.placement = self.placement
        self.compute.services.side_effect = lambda binary, host: [
            fakes.compute_service(host)
        ]
        self.useFixture(
            fixtures.MockPatch(
                'osc_hypervisor_servers.moves.runs.WATCH_INTERVAL_SECONDS',
                0.01,
            )
        )

    def drain_writes(self):
        return [
            call
            for call in self.compute.mock_calls[self.calls_seen :]
            if call[0] in ('post', 'disable_service')
        ]


class TestMigrateHypervisorServers(DrainTestCase):
    command_class = hypervisor_servers.MigrateHypervisorServers

    def test_parser(self):
        self.check_parser(
            self.cmd,
            ['compute-1', '--live-migration', '--host', 'dst', '--no-wait'],
            [('kind', 'live'), ('host', 'dst'), ('wait', False)],
        )
        self.assertRaises(
            osc_test_base.ParserException,
            self.check_parser,
            self.cmd,
            ['compute-1', '--live-migration', '--cold-migration'],
            [],
        )

    def test_reads_are_not_bounded_by_the_moves_per_host(self):
        config = self.app.client_manager.sdk_connection.config

        def run(*argv):
            parsed_args = self.check_parser(self.cmd, ['compute-1', *argv], [])
            options = arguments.run_options(
                self.app,  # type: ignore[arg-type]
                parsed_args,
                3,
                moves_per_host=True,
            )
            return options.parallel, options.reads

        self.assertEqual((3, 10), run())
        self.assertEqual((20, 20), run('--parallel', '20'))
        config.get_concurrency.return_value = '2'
        self.assertEqual((2, 2), run())
        self.assertEqual((1, 2), run('--parallel', '1'))

    def test_a_drain_reads_ten_at_a_time(self):
        with mock.patch(
            'osc_hypervisor_servers.runner.concurrency.bounded_map',
            wraps=concurrency.bounded_map,
        ) as bounded_map:
            self.run_table(['compute-1', '--dry-run'])
        self.assertEqual(
            {10}, {call.args[2] for call in bounded_map.call_args_list}
        )

    def test_dry_run_says_what_would_happen(self):
        self.stranger['status'] = 'ERROR'
        self.nova.replace(self.bare, self.marked)
        self.marked['status'] = 'SHUTOFF'
        columns, rows = self.run_table(['compute-1', '--dry-run'])
        self.assertEqual(
            [
                'ID',
                'Name',
                'Project',
                'Hypervisor',
                'Result',
                'Action',
                'Destination',
                'Migration',
                'Pre-flight',
                'Details',
            ],
            columns,
        )
        self.assertEqual(
            [
                ('a-bare', 'would migrate', 'live migration'),
                ('b-marked', 'would migrate', 'cold migration'),
            ],
            [(row[1], row[4], row[5]) for row in rows],
        )
        self.assertEqual([], self.drain_writes())

    def test_skipped_servers_make_the_exit_code(self):
        self.marked['status'] = 'ERROR'
        self.nova.replace(self.marked)
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_command,
            ['compute-1', '--dry-run'],
        )
        self.assertEqual('1 of 1 servers would stay on compute-1', str(error))

    def test_target_is_resolved_exactly(self):
        known = {
            'compute-1': HYPERVISOR_1,
            'compute-2': fakes.make_hypervisor(
                'compute-2', host='compute-2-host'
            ),
        }
        self.compute.hypervisors.side_effect = fakes.hypervisor_listing(
            *known.values()
        )
        self.placement.add_node(known['compute-2'])
        columns, rows = self.run_table(
            ['compute-1', '--host', 'compute-2', '--dry-run']
        )
        self.assertEqual('compute-2-host', rows[0][6])
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_table,
            ['compute-1', '--host', 'compute-1'],
        )
        self.assertIn('one of the hypervisors being drained', str(error))
        self.assertEqual([], self.drain_writes())

    def test_target_without_a_compute_service(self):
        orphan = fakes.make_hypervisor('compute-2')
        orphan.service_details = {}
        self.compute.hypervisors.side_effect = fakes.hypervisor_listing(
            HYPERVISOR_1, orphan
        )
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_table,
            ['compute-1', '--host', 'compute-2'],
        )
        self.assertEqual(
            '--host compute-2: hypervisor compute-2 has no compute service '
            'to move servers to',
            str(error),
        )
        self.assertEqual([], self.drain_writes())

    def test_a_host_with_other_than_one_compute_service(self):
        for found in ([], [fakes.compute_service()] * 2):
            self.compute.services.side_effect = None
            self.compute.services.return_value = found
            error = self.assertRaises(
                exceptions.CommandError, self.run_table, ['compute-1']
            )
            self.assertEqual(
                f"Found {len(found)} nova-compute services on host "
                f"'compute-1', expected one",
                str(error),
            )
        self.assertEqual([], self.drain_writes())

    def test_timeout_must_be_seconds_above_zero(self):
        for value in ('0', '-5', 'soon', 'nan', 'inf'):
            self.assertRaises(
                osc_test_base.ParserException,
                self.check_parser,
                self.cmd,
                ['compute-1', '--timeout', value],
                [],
            )
        self.check_parser(
            self.cmd, ['compute-1', '--timeout', '0.5'], [('timeout', 0.5)]
        )

    def test_dry_run_says_which_service_it_would_disable(self):
        self.compute.services.side_effect = lambda binary, host: [
            fakes.compute_service(host, status='disabled')
            if host == 'compute-10'
            else fakes.compute_service(host)
        ]
        self.compute.hypervisors.side_effect = fakes.hypervisor_listing(
            HYPERVISOR_1, HYPERVISOR_10, HYPERVISOR_2
        )
        self.placement.add_node(HYPERVISOR_2)
        self.run_command(
            ['compute-1', 'compute-10', '--disable-service', '--dry-run']
        )
        self.assertEqual(
            'Would disable the compute service of compute-1\n',
            self.stderr.getvalue().split('\n', 1)[1],
        )
        self.assertEqual([], self.drain_writes())

    def test_a_service_already_disabled_is_left_as_it_is(self):
        self.nova.replace()
        self.compute.services.side_effect = None
        self.compute.services.return_value = [
            fakes.compute_service(status='disabled', disabled_reason='old')
        ]
        exit_code, output = self.run_command(
            ['compute-1', '--disable-service']
        )
        self.assertEqual(0, exit_code)
        self.assertEqual(
            'The compute service of compute-1 was already disabled (old)\n',
            self.stderr.getvalue(),
        )
        self.compute.disable_service.assert_not_called()

    def test_disable_reason_needs_disable_service(self):
        self.assertRefusedWithoutCalls(
            ['compute-1', '--disable-reason', 'x'], '--disable-service'
        )

    def test_microversion_gate(self):
        fakes.set_compute_api_version(self.compute, '2.58')
        self.assertRefusedWithoutCalls(['compute-1'], '2.59')

    def test_drain_and_disable(self):
        self.nova.replace(self.bare)
        self.compute.disable_service.return_value = None
        disabled = fakes.compute_service(
            status='disabled', disabled_reason='reboot'
        )
        self.compute.services.side_effect = [
            [fakes.compute_service()],
            [disabled],
        ]
        self.compute.migrations.return_value = [
            fakes.sdk_record(
                9,
                'completed',
                server_id=self.bare['id'],
                source='compute-1',
                # After the Date of Nova's answers.
                created=fakes.NOVA_NOW + datetime.timedelta(seconds=1),
            )
        ]
        moved = fakes.nova_server(
            'compute-2',
            server_id=self.bare['id'],
            name='a-bare',
            compute_host='c2',
        )

        def move(url, json, microversion):
            self.nova.replace(moved)
            return fakes.action_response()

        self.compute.post.side_effect = move
        exit_code, output = self.run_command(
            [
                'compute-1',
                '--timeout',
                '10',
                '--disable-service',
                '--disable-reason',
                'reboot',
                '-f',
                'value',
                '-c',
                'Result',
                '-c',
                'Destination',
                '-c',
                'Migration',
            ]
        )
        self.assertEqual(0, exit_code)
        self.assertEqual('migrated compute-2 9\n', output)
        (journal,) = self.journals()
        self.assertEqual(
            'Pre-flight: 1 server needs 512 MB RAM, 1 vCPU, 1 GB disk; the 1 '
            'host it may go to has 100000 MB RAM, 100 vCPUs, 1000 GB disk '
            'free\n'
            'The compute service of compute-1 is disabled (reboot)\n'
            f'Journal of this run: {journal}\n'
            "Results recorded in it: every server's\n"
            f'To undo it: openstack hypervisor servers restore {journal}\n',
            self.stderr.getvalue(),
        )
        self.compute.disable_service.assert_called_once_with(
            fakes.service_id('compute-1'), disabled_reason='reboot'
        )
        with open(journal) as journal_file:
            document = json.load(journal_file)
        self.assertEqual(
            ('moves', 'migrate'), (document['wing'], document['verb'])
        )
        (server,) = document['servers']
        self.assertEqual(
            (
                'compute-1',
                'ACTIVE',
                {
                    'kind': 'live',
                    'target': None,
                    'destination': 'c2',
                    'migration': 9,
                },
                'migrated',
            ),
            (
                server['compute_host'],
                server['status'],
                server['move'],
                server['result'],
            ),
        )
        self.assertEqual(
            [
                {
                    'id': fakes.service_id('compute-1'),
                    'host': 'compute-1',
                    'before': {'status': 'enabled', 'disabled_reason': None},
                    'after': {
                        'status': 'disabled',
                        'disabled_reason': 'reboot',
                    },
                }
            ],
            document['services'],
        )

    def test_several_hypervisors_need_their_services_disabled(self):
        self.compute.hypervisors.side_effect = fakes.hypervisor_listing(
            HYPERVISOR_1, HYPERVISOR_10, HYPERVISOR_2
        )
        self.placement.add_node(HYPERVISOR_2)
        error = self.assertRaises(
            exceptions.CommandError,
            self.run_table,
            ['compute-1', 'compute-10', '--dry-run'],
        )
        self.assertEqual(
            'compute-1 and compute-10 are drained together, and the compute '
            'services of compute-1 and compute-10 are enabled: Nova could '
            'move servers from one onto another; give --disable-service '
            '(or --host)',
            str(error),
        )
        self.assertEqual([], self.drain_writes())
        # Disabled first, no server can move onto the other.
        columns, rows = self.run_table(
            ['compute-1', 'compute-10', '--dry-run', '--disable-service']
        )
        self.assertEqual(3, len(rows))

    def test_a_server_that_arrives_meanwhile_fails_the_drain(self):
        self.nova.replace()
        newcomer = fakes.nova_server(name='newcomer')

        def get(url, *args, **kwargs):
            if url == '/':
                # Nova's clock is read once the servers are listed.
                self.nova.add(newcomer)
            return self.nova.get(url, *args, **kwargs)

        self.compute.get.side_effect = get
        error = self.assertRaises(
            exceptions.CommandError, self.run_command, ['compute-1']
        )
        self.assertEqual('1 of 1 servers are still on compute-1', str(error))
        table = self.stdout.getvalue()
        self.assertIn('newcomer', table)
        self.assertIn('arrived', table)
        self.assertIn('drain with --disable-service', table)


class TestPreflight(DrainTestCase):
    command_class = hypervisor_servers.MigrateHypervisorServers

    def setUp(self):
        super().setUp()
        # Room for one more server of 512 MB on compute-10.
        self.placement.add_node(
            HYPERVISOR_10,
            used={'MEMORY_MB': 500},
            VCPU=8,
            MEMORY_MB=1100,
            DISK_GB=100,
        )

    def test_a_drain_that_cannot_finish_is_refused_before_any_move(self):
        error = self.assertRaises(
            exceptions.CommandError, self.run_table, ['compute-1']
        )
        self.assertEqual(
            '1 of 2 servers would not fit (a-bare: no room: needs 512 MB '
            'RAM, most free 88 MB RAM (compute-10)); nothing was moved: give '
            '--allow-partial to move the others, or --skip-preflight to let '
            'the scheduler try',
            str(error),
        )
        self.assertEqual([], self.drain_writes())
        self.assertEqual([], self.journals())

    def test_dry_run_says_which_would_not_fit(self):
        columns, rows = self.run_table(['compute-1', '--dry-run'])
        by_name = {
            row[1]: dict(zip(columns, row, strict=True)) for row in rows
        }
        self.assertEqual(
            ('would migrate', 'fits (1 host)'),
            (by_name['b-marked']['Result'], by_name['b-marked']['Pre-flight']),
        )
        self.assertEqual(
            (
                'skipped',
                'would not fit: no room: needs 512 MB RAM, most free 88 MB '
                'RAM (compute-10)',
            ),
            (by_name['a-bare']['Result'], by_name['a-bare']['Details']),
        )

    def test_allow_partial_moves_what_fits(self):
        self.compute.post.side_effect = lambda url, json, microversion: (
            fakes.action_response(409)
        )
        columns, rows = self.run_table(
            ['compute-1', '--allow-partial', '--no-wait']
        )
        (post,) = [c for c in self.compute.mock_calls if c[0] == 'post']
        self.assertEqual(f'/servers/{self.marked["id"]}/action', post.args[0])
        self.assertEqual(['skipped', 'failed'], [row[4] for row in rows])

    def test_skip_preflight_does_not_connect_to_placement(self):
        # Connecting costs a version discovery: a request of its own.
        connect = mock.PropertyMock(return_value=self.placement)
        type(self.app.client_manager.sdk_connection).placement = connect
        self.run_table(['compute-1', '--skip-preflight', '--dry-run'])
        connect.assert_not_called()
        self.run_table(['compute-1', '--dry-run'])
        connect.assert_called()

    def test_its_cost_grows_with_shapes_not_hosts(self):
        for number in range(20):
            self.placement.add_node(fakes.make_hypervisor(f'spare-{number}'))
        self.run_table(['compute-1', '--dry-run'])
        # A census of the hosts, one request per shape (one here), and
        # each server's allocations: whatever the number of hosts.
        self.assertEqual(
            sorted(
                [
                    '/allocations/' + self.marked['id'],
                    '/allocations/' + self.bare['id'],
                    '/allocation_candidates',
                    '/allocation_candidates',
                ]
            ),
            sorted(url for url, query in self.placement.requests),
        )


class TestEvacuateHypervisorServers(DrainTestCase):
    command_class = hypervisor_servers.EvacuateHypervisorServers

    def test_refused_while_the_service_is_up(self):
        error = self.assertRaises(
            exceptions.CommandError, self.run_table, ['compute-1']
        )
        self.assertEqual(
            'The compute service of compute-1 is up: evacuate only from a '
            'hypervisor that is down. If compute-1 is really dead, mark it '
            'down with: openstack compute service set --down compute-1 '
            'nova-compute',
            str(error),
        )
        self.assertEqual([], self.drain_writes())

    def test_down_or_forced_down(self):
        for service in [
            fakes.compute_service(state='down'),
            fakes.compute_service(forced_down=True),
        ]:
            self.compute.services.side_effect = None
            self.compute.services.return_value = [service]
            columns, rows = self.run_table(['compute-1', '--dry-run'])
            self.assertEqual(
                ['would evacuate', 'would evacuate'], [row[4] for row in rows]
            )


class TestRestoreOfADrain(DrainTestCase):
    command_class = hypervisor_servers.RestoreHypervisorServers

    def setUp(self):
        super().setUp()
        # The drain moved them from compute-1 to compute-10.
        self.back = fakes.nova_server('compute-10', name='a-back')
        self.moved = fakes.nova_server('compute-2', name='b-moved')
        self.gone_id = '9e1d1f6a-2b3c-4d5e-8f90-a1b2c3d4e5f6'
        self.nova.replace(self.back, self.moved)
        self.compute.services.side_effect = lambda binary, host: [
            fakes.compute_service(
                host, status='disabled', disabled_reason='reboot'
            )
        ]
        self.path = os.path.join(self.state_home, 'drain.json')
        with open(self.path, 'w') as journal_file:
            json.dump(self.drain_journal(), journal_file)

    def drain_journal(self):
        def moved(server_id, name):
            return {
                'id': server_id,
                'name': name,
                'project_id': 'project-a',
                'hypervisor_hostname': 'compute-1',
                'compute_host': 'compute-1',
                'status': 'ACTIVE',
                'changes': [],
                'move': {
                    'kind': 'live',
                    'target': None,
                    'destination': 'compute-10',
                    'migration': 3,
                },
                'result': 'migrated',
                'details': '',
            }

        return {
            'format': 'osc-hypervisor-servers-journal',
            'version': 2,
            'wing': 'moves',
            'verb': 'migrate',
            'started_at': '2026-12-01T07:00:00Z',
            'nova_started_at': '2026-12-01T07:00:00Z',
            'finished_at': '2026-12-01T07:10:00Z',
            'interrupted': False,
            'endpoint': fakes.ENDPOINT,
            'options': {},
            'restores': None,
            'hypervisors': [
                {
                    'id': HYPERVISOR_1.id,
                    'name': 'compute-1',
                    'host': 'compute-1',
                }
            ],
            'services': [
                {
                    'id': fakes.service_id('compute-1'),
                    'host': 'compute-1',
                    'before': {'status': 'enabled', 'disabled_reason': None},
                    'after': {
                        'status': 'disabled',
                        'disabled_reason': 'reboot',
                    },
                }
            ],
            'servers': [
                moved(self.back['id'], 'a-back'),
                moved(self.moved['id'], 'b-moved'),
                moved(self.gone_id, 'c-gone'),
            ],
        }

    def rows_by_name(self, columns, rows):
        by_column = [dict(zip(columns, row, strict=True)) for row in rows]
        return {
            row['Name']: (row['Result'], row['Destination'], row['Details'])
            for row in by_column
        }

    def test_dry_run_changes_nothing(self):
        columns, rows = self.run_table([self.path, '--dry-run'])
        self.assertEqual(
            {
                'a-back': (
                    'would migrate',
                    'compute-1',
                    'live migration to compute-1',
                ),
                'b-moved': (
                    'kept',
                    '',
                    'kept: now on compute-2, moved since the run',
                ),
                'c-gone': ('gone', '', 'the server no longer exists'),
            },
            self.rows_by_name(columns, rows),
        )
        self.assertEqual([], self.drain_writes())
        self.compute.enable_service.assert_not_called()

    def test_back_where_it_was_and_the_service_enabled_first(self):
        enabled = []

        def enable(service_id):
            enabled.append(service_id)
            self.compute.services.side_effect = lambda binary, host: [
                fakes.compute_service(host)
            ]

        def move_back(url, json, microversion):
            self.assertEqual([fakes.service_id('compute-1')], enabled)
            self.assertEqual(
                {
                    'os-migrateLive': {
                        'host': 'compute-1',
                        'block_migration': 'auto',
                    }
                },
                json,
            )
            self.back['OS-EXT-SRV-ATTR:host'] = 'compute-1'
            self.back['OS-EXT-SRV-ATTR:hypervisor_hostname'] = 'compute-1'
            return fakes.action_response()

        self.compute.enable_service.side_effect = enable
        self.compute.post.side_effect = move_back
        self.compute.migrations.return_value = [
            fakes.sdk_record(
                11,
                'completed',
                server_id=self.back['id'],
                source='compute-10',
                dest='compute-1',
                created=fakes.NOVA_NOW + datetime.timedelta(seconds=1),
            )
        ]
        exit_code, output = self.run_command([self.path, '-f', 'json'])
        self.assertEqual(0, exit_code)
        rows = {row['Name']: row for row in json.loads(output)}
        self.assertEqual(
            ('migrated', 'compute-1', '11'),
            (
                rows['a-back']['Result'],
                rows['a-back']['Destination'],
                rows['a-back']['Migration'],
            ),
        )
        self.assertIn(
            'The compute service of compute-1 is enabled\n',
            self.stderr.getvalue(),
        )
        # The restore is journaled: undoing it drains again.
        (journal,) = [path for path in self.journals() if 'restore' in path]
        with open(journal) as journal_file:
            document = json.load(journal_file)
        self.assertEqual(
            ('moves', 'restore'), (document['wing'], document['verb'])
        )
        (server,) = document['servers']
        self.assertEqual(
            ('compute-10', 'compute-1'),
            (server['compute_host'], server['move']['destination']),
        )
        (service,) = document['services']
        self.assertEqual(
            (
                {'status': 'disabled', 'disabled_reason': 'reboot'},
                {'status': 'enabled', 'disabled_reason': None},
            ),
            (service['before'], service['after']),
        )

    def test_a_service_disabled_since_for_another_reason(self):
        self.compute.services.side_effect = lambda binary, host: [
            fakes.compute_service(
                host, status='disabled', disabled_reason='disk failure'
            )
        ]
        error = self.assertRaises(
            exceptions.CommandError, self.run_command, [self.path]
        )
        self.assertEqual(
            '1 of 3 servers are not back where they were', str(error)
        )
        self.assertIn(
            'not moved back: the compute service of compute-1 is disabled '
            '(disk failure)',
            self.stdout.getvalue(),
        )
        self.assertEqual([], self.drain_writes())
        self.compute.enable_service.assert_not_called()
