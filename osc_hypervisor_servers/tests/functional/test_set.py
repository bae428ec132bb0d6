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

from osc_hypervisor_servers.tests import sandbox as nova_sandbox
from osc_hypervisor_servers.tests.functional import base


class TestSet(base.FunctionalTestCase):
    def test_set_by_name_changes_that_hypervisor_only(self):
        before = self.all_servers()
        exit_code, rows, stderr = self.hypervisor_servers(
            'set',
            'compute-1',
            '--property', f'{self.mark}=yes',
            '--tag', self.mark,
            '--description', f'maintenance {self.mark}',
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        after = self.all_servers()
        on_compute_1 = self.servers_on('compute-1')
        self.assertEqual(base.SERVERS_PER_HOST, len(on_compute_1))
        # -f json agrees with what the API shows.
        self.assertEqual(on_compute_1, sorted(row['ID'] for row in rows))
        for row in rows:
            self.assertEqual('changed', row['Result'])
            server = after[row['ID']]
            self.assertEqual(server['name'], row['Name'])
            self.assertEqual(server['tenant_id'], row['Project'])
            self.assertChanged(
                server,
                properties={self.mark: 'yes'},
                tags=[self.mark],
                description=f'maintenance {self.mark}',
            )
        self.assertUntouched(
            {k: v for k, v in before.items() if k not in on_compute_1}, after
        )

    def test_set_by_id(self):
        hypervisor_id = self.sandbox.hypervisors['compute-10']
        before = self.all_servers()
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', hypervisor_id, '--property', f'{self.mark}=by-id'
        )
        self.assertEqual(0, exit_code, stderr)
        on_compute_10 = self.servers_on('compute-10')
        self.assertEqual(on_compute_10, sorted(row['ID'] for row in rows))
        after = self.all_servers()
        for server_id in on_compute_10:
            self.assertEqual('by-id', after[server_id]['metadata'][self.mark])
        self.assertUntouched(
            {k: v for k, v in before.items() if k not in on_compute_10}, after
        )

    def test_identical_rerun_makes_no_write(self):
        change = [
            'set',
            'compute-2',
            '--property', f'{self.mark}=1',
            '--tag', self.mark,
            '--description', self.mark,
        ]  # fmt: skip
        exit_code, rows, stderr = self.hypervisor_servers(*change)
        self.assertEqual(0, exit_code, stderr)
        self.sandbox.reset_stats()
        exit_code, rows, stderr = self.hypervisor_servers(*change)
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(
            ['unchanged'] * base.SERVERS_PER_HOST,
            [row['Result'] for row in rows],
        )
        self.assertEqual(0, self.writes())

    def test_tags_and_keys_reach_nova_as_given(self):
        tag = f'{self.mark}?a#b%c d'
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-2', '--tag', tag, '--property', 'server=named'
        )
        self.assertEqual(0, exit_code, stderr)
        for server_id in self.servers_on('compute-2'):
            server = self.server(server_id)
            self.assertIn(tag, server['tags'])
            self.assertNotIn(self.mark, server['tags'])
            self.assertEqual('named', server['metadata']['server'])

    def test_a_state_nova_refuses_is_skipped_without_a_write(self):
        broken, *healthy = self.servers_on('compute-10')
        self.set_state(broken, 'error')
        self.addCleanup(self.set_state, broken, 'active')
        self.addCleanup(
            self.api,
            'PUT',
            f'/servers/{broken}',
            {'server': {'description': None}},
        )
        self.sandbox.reset_stats()
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-10',
            '--property', f'{self.mark}=x', '--description', self.mark,
        )  # fmt: skip
        self.assertEqual(1, exit_code)
        self.assertIn(
            f'0 of {base.SERVERS_PER_HOST} servers failed, 1 skipped', stderr
        )
        results = {row['ID']: row for row in rows}
        self.assertEqual('skipped', results[broken]['Result'])
        self.assertEqual(
            f"set description '{self.mark}'; skipped set property "
            f'{self.mark}=x: Nova changes properties of ACTIVE, PAUSED, '
            f'SUSPENDED or SHUTOFF servers only, this one is ERROR',
            results[broken]['Details'],
        )
        # What Nova accepts in any state is done; the rest is not sent.
        self.assertEqual(self.mark, self.server(broken)['description'])
        self.assertNotIn(self.mark, self.server(broken)['metadata'])
        self.assertEqual(2 * len(healthy) + 1, self.writes())
        for server_id in healthy:
            self.assertEqual('changed', results[server_id]['Result'])
            self.assertEqual(
                'x', self.server(server_id)['metadata'][self.mark]
            )

    def test_locked_server_is_changed_by_admin(self):
        locked = self.servers_on('compute-1')[0]
        owner = self.server(locked)['tenant_id']
        self.server_action(
            locked, 'lock', user=nova_sandbox.MEMBER, project=owner
        )
        self.addCleanup(self.server_action, locked, 'unlock')
        self.assertTrue(self.server(locked)['locked'])
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-1', '--property', f'{self.mark}=l', '--tag', 'l'
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual('l', self.server(locked)['metadata'][self.mark])

    def test_bad_input_changes_nothing(self):
        self.assertRefusedWithoutWrites(
            'set',
            [
                ['compute-1', '--property', 'a/b=1'],
                ['compute-1', '--property', 'k=' + 'v' * 256],
                ['compute-1', '--tag', 'a,b'],
                ['compute-1', '--tag', 't' * 61],
                ['compute-1', '--description', 'two\nlines'],
                ['compute-1', '--os-compute-api-version', '2.18',
                 '--description', 'needs 2.19'],
                ['compute-3', '--property', 'k=v'],
                ['compute-1'],
            ],
        )  # fmt: skip

    def test_substring_is_not_a_match(self):
        exit_code, stdout, stderr = self.openstack(
            'hypervisor', 'servers', 'set', 'compute', '--tag', self.mark
        )
        self.assertEqual(1, exit_code)
        self.assertIn("'compute'", stderr)

    def test_non_admin_gets_a_clear_error(self):
        before = self.all_servers()
        self.sandbox.reset_stats()
        # A member of the first project (the sandbox-member cloud).
        exit_code, stdout, stderr = self.openstack(
            'hypervisor', 'servers', 'set', 'compute-1', '--tag', self.mark,
            user=nova_sandbox.MEMBER,
        )  # fmt: skip
        self.assertEqual(1, exit_code)
        self.assertIn('admin token', stderr)
        self.assertEqual(0, self.writes())
        self.assertUntouched(before, self.all_servers())

    def test_osc_hypervisor_commands_still_work(self):
        exit_code, stdout, stderr = self.openstack(
            'hypervisor',
            'show',
            'compute-1',
            '-f',
            'value',
            '-c',
            'hypervisor_hostname',
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual('compute-1', stdout.strip())
        exit_code, stdout, stderr = self.openstack(
            'hypervisor', 'list', '-f', 'value', '-c', 'Hypervisor Hostname'
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(sorted(base.HOSTS), sorted(stdout.split()))

    def test_value_format_and_columns(self):
        exit_code, stdout, stderr = self.openstack(
            'hypervisor', 'servers', 'set', 'compute-2', '--tag', self.mark,
            '-f', 'value', '-c', 'ID', '-c', 'Result',
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(
            [
                f'{server_id} changed'
                for server_id in self.servers_on('compute-2')
            ],
            sorted(stdout.splitlines()),
        )
