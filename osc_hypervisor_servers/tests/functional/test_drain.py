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


"""migrate and evacuate against the real Nova: FakeDriver moves servers.

These tests run in a cloud of their own. Each drains sources it declares
(``base.drains``) and no other test uses; the cloud starts with them
disabled, and a source is enabled only while its test boots servers on
it, so that the scheduler sends every moved server to the spares
(``base.DRAIN_SPARES``), never to another test's source.
"""

import signal

from osc_hypervisor_servers.tests.functional import base


class TestDrain(base.DrainTestCase):
    @base.drains('drain-7', 'drain-70')
    def test_migrate_moves_what_it_can_and_says_what_stays(self):
        active, shutoff, broken = self.boot_on('drain-7', 3)
        (neighbour,) = self.boot_on('drain-70', 1)
        self.server_action(shutoff, 'os-stop')
        self.set_state(broken, 'error')
        self.wait_for_status(shutoff, 'SHUTOFF')
        self.set_service('drain-7', status='enabled')
        self.sandbox.reset_stats()
        reason = f'maintenance {self.mark}'
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', 'drain-7',
            '--disable-service', '--disable-reason', reason,
        )  # fmt: skip
        self.assertEqual(1, exit_code, stderr)
        self.assertIn('1 of 3 servers are still on drain-7', stderr)
        self.assertIn(
            f'The compute service of drain-7 is disabled ({reason})', stderr
        )
        results = {row['ID']: row for row in rows}
        self.assertEqual({active, shutoff, broken}, set(results))
        self.assertEqual(
            ('migrated', 'live migration'),
            (results[active]['Result'], results[active]['Action']),
        )
        self.assertEqual(
            ('migrated', 'cold migration'),
            (results[shutoff]['Result'], results[shutoff]['Action']),
        )
        self.assertEqual('skipped', results[broken]['Result'])
        self.assertIn('ERROR', results[broken]['Details'])
        # Checked through the API: where each one is, in which state.
        for server_id, status in ((active, 'ACTIVE'), (shutoff, 'SHUTOFF')):
            host, now = self.where(server_id)
            self.assertIn(host, base.DRAIN_SPARES)
            self.assertEqual(results[server_id]['Destination'], host)
            self.assertEqual(status, now)
            (record,) = self.records(server_id)
            self.assertEqual(
                str(record['id']), results[server_id]['Migration']
            )
        self.assertEqual(('drain-7', 'ERROR'), self.where(broken))
        self.assertEqual([], self.records(broken))
        self.assertEqual(('drain-70', 'ACTIVE'), self.where(neighbour))
        self.assertEqual([], self.records(neighbour))
        service = self.service('drain-7')
        self.assertEqual(
            ('disabled', reason),
            (service['status'], service['disabled_reason']),
        )
        # Waiting cost a few lists of migrations, not a read per server
        # per second: every GET is counted here.
        self.assertLess(self.sandbox.stats()['by_method']['GET'], 40)

    @base.drains('rollback-1')
    def test_a_live_migration_nova_rolls_back_is_failed(self):
        (server,) = self.boot_on('rollback-1', 1)
        self.set_service('spare-2', status='disabled')
        self.addCleanup(self.set_service, 'spare-2', status='enabled')
        # The pre-flight would refuse a disabled target: let Nova try.
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', 'rollback-1', '--host', 'spare-2', '--skip-preflight'
        )
        self.assertEqual(1, exit_code, stderr)
        (row,) = rows
        self.assertEqual('failed', row['Result'])
        self.assertIn('No valid host', row['Details'])
        self.assertIn('still on rollback-1', row['Details'])
        # The server is ACTIVE, but it never left: not "migrated".
        self.assertEqual(('rollback-1', 'ACTIVE'), self.where(server))
        (record,) = self.records(server)
        self.assertEqual('error', record['status'])
        self.assertEqual(str(record['id']), row['Migration'])

    @base.drains('submit-1')
    def test_dry_run_starts_nothing_and_no_wait_submits_all(self):
        servers = self.boot_on('submit-1', 2)
        self.sandbox.reset_stats()
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', 'submit-1', '--dry-run'
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(0, self.writes())
        self.assertEqual(
            ['would migrate'] * 2, [row['Result'] for row in rows]
        )
        for server_id in servers:
            self.assertEqual([], self.records(server_id))
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', 'submit-1', '--no-wait'
        )
        self.assertEqual(0, exit_code, stderr)
        for row in rows:
            self.assertEqual('submitted', row['Result'])
            (record,) = self.records(row['ID'])
            self.assertEqual(str(record['id']), row['Migration'])
        for server_id in servers:
            self.wait_until(
                lambda server_id=server_id: (
                    self.where(server_id)[0] != 'submit-1'
                )
            )

    @base.drains('dead-1')
    def test_evacuate_refused_while_the_service_is_up(self):
        active, stopped = self.boot_on('dead-1', 2)
        self.server_action(stopped, 'os-stop')
        self.wait_for_status(stopped, 'SHUTOFF')
        self.sandbox.reset_stats()
        exit_code, stdout, stderr = self.openstack(
            'hypervisor', 'servers', 'evacuate', 'dead-1'
        )
        self.assertEqual(1, exit_code)
        self.assertEqual('', stdout)
        self.assertEqual(1, len(stderr.strip().splitlines()), stderr)
        self.assertIn(
            'openstack compute service set --down dead-1 nova-compute', stderr
        )
        self.assertEqual(0, self.writes())
        # Once the host is marked down, as the message says.
        self.set_service('dead-1', forced_down=True)
        exit_code, rows, stderr = self.hypervisor_servers('evacuate', 'dead-1')
        self.assertEqual(0, exit_code, stderr)
        for row in rows:
            self.assertEqual('evacuated', row['Result'])
            host, status = self.where(row['ID'])
            self.assertEqual(row['Destination'], host)
            self.assertIn(host, base.DRAIN_SPARES)
            # From 2.95 (the session negotiates more) it stays stopped.
            self.assertEqual('SHUTOFF', status)

    @base.drains('faults-1')
    def test_lost_answers_never_move_a_server_twice(self):
        servers = self.boot_on('faults-1', 3)
        self.addCleanup(self.sandbox.set_faults)
        self.sandbox.reset_stats()
        self.sandbox.set_faults(
            error_rate=0.2, drop_rate=0.5, seed=3, methods=['POST']
        )
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', 'faults-1', '--parallel', '1'
        )
        self.sandbox.set_faults()
        stats = self.sandbox.stats()
        self.assertEqual(0, exit_code, stderr)
        self.assertGreater(stats['dropped'], 0, stats)
        self.assertEqual(
            ['migrated'] * 3, [row['Result'] for row in rows], str(rows)
        )
        for server_id in servers:
            # One move each, though some answers were lost.
            self.assertEqual(1, len(self.records(server_id)))
            self.assertIn(self.where(server_id)[0], base.DRAIN_SPARES)

    @base.drains('password-1')
    def test_a_password_authenticated_admin_sets_migrates_restores(self):
        servers = self.boot_on('password-1', 2)
        self.sandbox.reset_stats()
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'password-1', '--property', f'{self.mark}=1',
            '--tag', self.mark,
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        set_journal = self.journal_of(stderr)
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', 'password-1'
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(['migrated'] * 2, [row['Result'] for row in rows])
        for server_id in servers:
            server = self.server(server_id)
            self.assertIn(server['OS-EXT-SRV-ATTR:host'], base.DRAIN_SPARES)
            self.assertEqual('1', server['metadata'][self.mark])
        exit_code, rows, stderr = self.hypervisor_servers(
            'restore', set_journal
        )
        self.assertEqual(0, exit_code, stderr)
        for server_id in servers:
            server = self.server(server_id)
            self.assertNotIn(self.mark, server['metadata'])
            self.assertNotIn(self.mark, server['tags'])
        # Each run authenticated once, with the admin's password from
        # clouds.yaml: keystone got one token request per command.
        identity = self.sandbox.stats('identity')
        self.assertEqual(3, identity['by_method']['POST'])

    @base.drains('ctrl-c-1')
    def test_ctrl_c_mid_drain(self):
        servers = self.boot_on('ctrl-c-1', 3)
        self.sandbox.set_latency(300)
        self.addCleanup(self.sandbox.set_latency, 0)
        command = self.start_openstack_and_wait_for_a_write(
            'hypervisor', 'servers', 'migrate', 'ctrl-c-1',
            '--parallel', '1', '-f', 'json',
        )  # fmt: skip
        command.send_signal(signal.SIGINT)
        exit_code, rows, stderr = self.finish(command)
        self.sandbox.set_latency(0)
        self.assertEqual(130, exit_code)
        self.assertIn('Interrupted: ', stderr)
        results = {row['ID']: row['Result'] for row in rows}
        self.assertEqual(set(servers), set(results))
        moving = [s for s in servers if results[s] != 'not attempted']
        # The move in flight went on in Nova; the others never started.
        self.assertEqual(1, len(moving), str(results))
        self.assertIn(results[moving[0]], ('in progress', 'migrated'))
        for server_id in servers:
            if server_id in moving:
                self.wait_until(lambda: self.where(moving[0])[0] != 'ctrl-c-1')
            else:
                self.assertEqual([], self.records(server_id))
                self.assertEqual('ctrl-c-1', self.where(server_id)[0])

    @base.drains('lagging-1')
    def test_a_confirmed_migration_is_judged_once_the_server_shows_it(self):
        # Nova saves a migration's "confirmed" before the server leaves
        # VERIFY_RESIZE; here the server shows it 3 s later.
        (stopped,) = self.boot_on('lagging-1', 1)
        self.server_action(stopped, 'os-stop')
        self.wait_for_status(stopped, 'SHUTOFF')
        self.sandbox.set_confirm_lag(3)
        self.addCleanup(self.sandbox.set_confirm_lag, 0)
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', 'lagging-1'
        )
        self.assertEqual(0, exit_code, f'{stderr}{rows}')
        (row,) = rows
        self.assertEqual(
            ('migrated', 'cold migration'), (row['Result'], row['Action'])
        )
        host, status = self.where(stopped)
        self.assertIn(host, base.DRAIN_SPARES)
        self.assertEqual('SHUTOFF', status)
