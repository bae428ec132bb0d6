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

from osc_hypervisor_servers.tests.functional import base


class TestUnset(base.FunctionalTestCase):
    def test_unset_takes_back_what_set_did(self):
        before = self.all_servers()
        exit_code, rows, stderr = self.hypervisor_servers(
            'set',
            'compute-2',
            '--property', f'{self.mark}=1',
            '--property', f'{self.mark}-keep=2',
            '--tag', self.mark,
            '--description', self.mark,
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        exit_code, rows, stderr = self.hypervisor_servers(
            'unset',
            'compute-2',
            '--property', self.mark,
            '--property', f'{self.mark}-absent',
            '--tag', self.mark,
            '--description',
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(
            ['changed'] * base.SERVERS_PER_HOST,
            [row['Result'] for row in rows],
        )
        for server_id in self.servers_on('compute-2'):
            server = self.server(server_id)
            self.assertNotIn(self.mark, server['metadata'])
            self.assertEqual('2', server['metadata'][f'{self.mark}-keep'])
            self.assertNotIn(self.mark, server['tags'])
            self.assertIsNone(server['description'])
            self.assertEqual(
                sorted(before[server_id]['tags']), sorted(server['tags'])
            )

    def test_absent_is_unchanged_without_a_call(self):
        self.sandbox.reset_stats()
        exit_code, rows, stderr = self.hypervisor_servers(
            'unset',
            'compute-1',
            '--property', f'{self.mark}-absent',
            '--tag', f'{self.mark}-absent',
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(
            ['unchanged'] * base.SERVERS_PER_HOST,
            [row['Result'] for row in rows],
        )
        self.assertEqual(0, self.writes())

    def test_bad_input_changes_nothing(self):
        self.assertRefusedWithoutWrites(
            'unset',
            [
                ['compute-1', '--property', 'a/b'],
                ['compute-1', '--tag', 'a,b'],
                ['compute-1', '--os-compute-api-version', '2.18',
                 '--description'],
                ['compute-1'],
            ],
        )  # fmt: skip


class TestDryRun(base.FunctionalTestCase):
    def test_dry_run_shows_the_plan_and_writes_nothing(self):
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-1', '--tag', f'{self.mark}-seed'
        )
        self.assertEqual(0, exit_code, stderr)
        before = self.all_servers()
        for command, details in (
            (
                ['set', '--tag', f'{self.mark}-seed', '--property', 'dry=run'],
                'set property dry=run',
            ),
            (
                ['unset', '--tag', f'{self.mark}-seed'],
                f'remove tag {self.mark}-seed',
            ),
        ):
            self.sandbox.reset_stats()
            exit_code, rows, stderr = self.hypervisor_servers(
                command[0], 'compute-1', '--dry-run', *command[1:]
            )
            self.assertEqual(0, exit_code, stderr)
            self.assertEqual(0, self.writes())
            self.assertEqual(
                [('would change', details)] * base.SERVERS_PER_HOST,
                [(row['Result'], row['Details']) for row in rows],
            )
        self.assertUntouched(before, self.all_servers())


class TestSelection(base.FunctionalTestCase):
    def test_several_hypervisors_and_matching(self):
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-1', 'compute-2', 'compute-1',
            '--tag', self.mark,
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        expected = sorted(
            self.servers_on('compute-1') + self.servers_on('compute-2')
        )
        self.assertEqual(expected, sorted(row['ID'] for row in rows))
        self.assertEqual(
            {'compute-1', 'compute-2'}, {row['Hypervisor'] for row in rows}
        )

        exit_code, rows, stderr = self.hypervisor_servers(
            'set', '--matching', 'compute-1', '--tag', f'{self.mark}-m'
        )
        self.assertEqual(0, exit_code, stderr)
        expected = sorted(
            self.servers_on('compute-1') + self.servers_on('compute-10')
        )
        self.assertEqual(expected, sorted(row['ID'] for row in rows))
        for server_id in self.servers_on('compute-2'):
            self.assertNotIn(f'{self.mark}-m', self.server(server_id)['tags'])

    def test_status_filter(self):
        stopped, *running = self.servers_on('compute-2')
        self.server_action(stopped, 'os-stop')
        self.addCleanup(self.server_action, stopped, 'os-start')
        self.wait_for_status(stopped, 'SHUTOFF')
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-2', '--status', 'active', '--tag', self.mark
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(sorted(running), sorted(row['ID'] for row in rows))
        self.assertNotIn(self.mark, self.server(stopped)['tags'])

    def test_project_filter(self):
        project = self.sandbox.projects[1]
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-1', '--project', project, '--tag', self.mark
        )
        self.assertEqual(0, exit_code, stderr)
        servers = self.all_servers()
        expected = sorted(
            server_id
            for server_id in self.servers_on('compute-1')
            if servers[server_id]['tenant_id'] == project
        )
        self.assertTrue(expected)
        self.assertEqual(expected, sorted(row['ID'] for row in rows))
        for server_id in self.servers_on('compute-1'):
            self.assertEqual(
                server_id in expected,
                self.mark in servers[server_id]['tags'],
            )
