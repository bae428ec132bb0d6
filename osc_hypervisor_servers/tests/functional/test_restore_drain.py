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


"""A drain's journal, and restore that puts every server back, against
the real Nova. Checked through the API: where each server is, in which
state, its migration records, and the compute services.
"""

import json
import os
import signal

from osc_hypervisor_servers.tests.functional import base


class TestRestoreDrain(base.DrainTestCase):
    def drain(self, *args):
        """``migrate`` ``args``; its rows and its journal."""
        exit_code, rows, stderr = self.hypervisor_servers('migrate', *args)
        self.assertEqual(0, exit_code, stderr)
        return rows, self.journal_of(stderr)

    def origin_closed_after(self, host):
        """Leave ``host`` disabled when the test ends, as every source of
        the drain cloud is between tests.
        """
        self.addCleanup(self.set_service, host, status='disabled')

    @base.drains('home-1')
    def test_drain_and_restore_every_server_as_it_was(self):
        running, paused, stopped = self.boot_on('home-1', 3)
        self.server_action(paused, 'pause')
        self.server_action(stopped, 'os-stop')
        self.wait_for_status(paused, 'PAUSED')
        self.wait_for_status(stopped, 'SHUTOFF')
        before = {s: self.where(s) for s in (running, paused, stopped)}
        self.set_service('home-1', status='enabled')
        self.origin_closed_after('home-1')
        reason = f'maintenance {self.mark}'
        rows, journal = self.drain(
            'home-1', '--disable-service', '--disable-reason', reason
        )
        self.assertEqual(['migrated'] * 3, [row['Result'] for row in rows])
        with open(journal) as journal_file:
            document = json.load(journal_file)
        self.assertEqual(
            {
                'id': self.service('home-1')['id'],
                'host': 'home-1',
                'before': {'status': 'enabled', 'disabled_reason': None},
                'after': {'status': 'disabled', 'disabled_reason': reason},
            },
            document['services'][0],
        )
        for server in document['servers']:
            self.assertEqual('home-1', server['compute_host'])
            self.assertIn(server['move']['destination'], base.DRAIN_SPARES)

        exit_code, rows, stderr = self.hypervisor_servers('restore', journal)
        self.assertEqual(0, exit_code, stderr)
        self.assertIn('The compute service of home-1 is enabled', stderr)
        self.assertEqual(['migrated'] * 3, [row['Result'] for row in rows])
        self.assertEqual(
            {s: before[s] for s in before}, {s: self.where(s) for s in before}
        )
        for server_id in before:
            # One move away, one back.
            self.assertEqual(2, len(self.records(server_id)))
        self.assertEqual('enabled', self.service('home-1')['status'])
        # The restore is journaled: it can itself be undone.
        self.assertNotEqual(journal, self.journal_of(stderr))

    @base.drains('away-1')
    def test_servers_moved_since_or_deleted_are_left_alone(self):
        stays, wanders, doomed = self.boot_on('away-1', 3)
        rows, journal = self.drain('away-1')
        went_to = {row['ID']: row['Destination'] for row in rows}
        elsewhere = next(h for h in base.DRAIN_SPARES if h != went_to[wanders])
        self.api(
            'POST',
            f'/servers/{wanders}/action',
            {'os-migrateLive': {'host': elsewhere, 'block_migration': 'auto'}},
        )
        self.wait_until(lambda: self.where(wanders)[0] == elsewhere)
        self.api('DELETE', f'/servers/{doomed}')
        self.wait_until(
            lambda: self.sandbox.api('GET', f'/servers/{doomed}')[0] == 404
        )
        self.set_service('away-1', status='enabled')
        self.origin_closed_after('away-1')

        exit_code, rows, stderr = self.hypervisor_servers('restore', journal)
        self.assertEqual(0, exit_code, stderr)
        results = {row['ID']: (row['Result'], row['Details']) for row in rows}
        self.assertEqual('migrated', results[stays][0])
        self.assertEqual(
            ('kept', f'kept: now on {elsewhere}, moved since the run'),
            results[wanders],
        )
        self.assertEqual(
            ('gone', 'the server no longer exists'), results[doomed]
        )
        self.assertEqual(('away-1', 'ACTIVE'), self.where(stays))
        self.assertEqual((elsewhere, 'ACTIVE'), self.where(wanders))
        self.assertEqual(2, len(self.records(wanders)))

    @base.drains('killed-1')
    def test_a_drain_killed_mid_run_is_undone(self):
        servers = self.boot_on('killed-1', 3)
        self.set_service('killed-1', status='enabled')
        self.origin_closed_after('killed-1')
        self.sandbox.set_latency(300)
        self.addCleanup(self.sandbox.set_latency, 0)
        command = self.start_openstack_and_wait_for_a_write(
            'hypervisor', 'servers', 'migrate', 'killed-1',
            '--disable-service', '--parallel', '1',
        )  # fmt: skip
        # Its first move under way: the journal says nothing of it yet.
        self.wait_until(lambda: any(self.records(s) for s in servers))
        command.send_signal(signal.SIGKILL)
        command.wait()
        self.sandbox.set_latency(0)
        # Nova does not know the client is gone: its moves go on.
        self.wait_until(lambda: self.settled(servers))
        left = [s for s in servers if self.where(s)[0] != 'killed-1']
        self.assertTrue(left)
        journals = os.path.join(
            self.state_home, 'osc-hypervisor-servers', 'journal'
        )
        (name,) = os.listdir(journals)
        journal = os.path.join(journals, name)
        with open(journal) as journal_file:
            self.assertIsNone(json.load(journal_file)['finished_at'])

        exit_code, rows, stderr = self.hypervisor_servers('restore', journal)
        self.assertEqual(0, exit_code, stderr)
        results = {row['ID']: row['Result'] for row in rows}
        for server_id in servers:
            self.assertEqual(('killed-1', 'ACTIVE'), self.where(server_id))
            expected = 'migrated' if server_id in left else 'unchanged'
            self.assertEqual(expected, results[server_id])
        self.assertEqual('enabled', self.service('killed-1')['status'])

    @base.drains('lossy-1')
    def test_lost_answers_on_the_way_back_never_move_a_server_twice(self):
        servers = self.boot_on('lossy-1', 3)
        rows, journal = self.drain('lossy-1')
        self.set_service('lossy-1', status='enabled')
        self.origin_closed_after('lossy-1')
        self.addCleanup(self.sandbox.set_faults)
        self.sandbox.reset_stats()
        self.sandbox.set_faults(
            error_rate=0.2, drop_rate=0.5, seed=5, methods=['POST']
        )
        exit_code, rows, stderr = self.hypervisor_servers(
            'restore', journal, '--parallel', '1'
        )
        self.sandbox.set_faults()
        stats = self.sandbox.stats()
        self.assertEqual(0, exit_code, stderr)
        self.assertGreater(stats['dropped'], 0, stats)
        self.assertEqual(['migrated'] * 3, [row['Result'] for row in rows])
        for server_id in servers:
            self.assertEqual('lossy-1', self.where(server_id)[0])
            # One move away, and exactly one back.
            self.assertEqual(2, len(self.records(server_id)))

    @base.drains('rehearse-1')
    def test_dry_run_restore_moves_nothing_and_enables_nothing(self):
        servers = self.boot_on('rehearse-1', 2)
        self.set_service('rehearse-1', status='enabled')
        self.origin_closed_after('rehearse-1')
        rows, journal = self.drain('rehearse-1', '--disable-service')
        self.sandbox.reset_stats()
        exit_code, rows, stderr = self.hypervisor_servers(
            'restore', journal, '--dry-run'
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(0, self.writes())
        self.assertEqual(
            ['would migrate'] * 2, [row['Result'] for row in rows]
        )
        self.assertIn('Would enable the compute service of rehearse-1', stderr)
        self.assertEqual('disabled', self.service('rehearse-1')['status'])
        for server_id in servers:
            self.assertEqual(1, len(self.records(server_id)))
            self.assertNotEqual('rehearse-1', self.where(server_id)[0])

    @base.drains('pair-1', 'pair-2')
    def test_hypervisors_drained_together_never_trade_servers(self):
        servers = self.boot_on('pair-1', 2) + self.boot_on('pair-2', 2)
        for host in ('pair-1', 'pair-2'):
            self.set_service(host, status='enabled')
            self.origin_closed_after(host)
        self.sandbox.reset_stats()
        exit_code, stdout, stderr = self.openstack(
            'hypervisor', 'servers', 'migrate', 'pair-1', 'pair-2'
        )
        self.assertEqual(1, exit_code)
        self.assertEqual('', stdout)
        self.assertIn('give --disable-service (or --host)', stderr)
        self.assertEqual(0, self.writes())
        rows, journal = self.drain('pair-1', 'pair-2', '--disable-service')
        for server_id in servers:
            self.assertIn(self.where(server_id)[0], base.DRAIN_SPARES)
            self.assertEqual(1, len(self.records(server_id)))

    @base.drains('open-1')
    def test_a_server_booted_during_the_drain_fails_it(self):
        self.boot_on('open-1', 2)
        self.set_service('open-1', status='enabled')
        self.origin_closed_after('open-1')
        self.sandbox.set_latency(200)
        self.addCleanup(self.sandbox.set_latency, 0)
        command = self.start_openstack_and_wait_for_a_write(
            'hypervisor', 'servers', 'migrate', 'open-1',
            '--parallel', '1', '-f', 'json',
        )  # fmt: skip
        (newcomer,) = self.sandbox.boot('open-1', 1)
        exit_code, rows, stderr = self.finish(command)
        self.sandbox.set_latency(0)
        self.assertEqual(1, exit_code)
        self.assertIn('1 of 3 servers are still on open-1', stderr)
        results = {row['ID']: row for row in rows}
        self.assertEqual('arrived', results[newcomer]['Result'])
        self.assertIn('--disable-service', results[newcomer]['Details'])
        self.assertEqual('open-1', self.where(newcomer)[0])


class TestBadJournals(base.FunctionalTestCase):
    SERVER_ID = '7d0b8f3c-1e2a-4b5c-8d9e-0f1a2b3c4d5e'

    def journal(self, version, **server):
        entry = {
            'id': self.SERVER_ID,
            'name': 'web-1',
            'project_id': 'p',
            'hypervisor_hostname': 'compute-1',
            'changes': [
                {
                    'attribute': 'tag',
                    'tag': 't',
                    'before': False,
                    'after': True,
                }
            ],
            'result': 'pending',
            'details': '',
        }
        document = {
            'format': 'osc-hypervisor-servers-journal',
            'version': version,
            'verb': 'set',
            'started_at': '2026-12-01T08:00:00Z',
            'endpoint': self.sandbox.endpoint,
            'hypervisors': [],
            'servers': [dict(entry, **server)],
        }
        if version == 2:
            document['wing'] = 'marks'
        return json.dumps(document)

    def test_refused_before_any_request(self):
        for version in (1, 2):
            for content, reason in [
                ('', 'is not JSON'),
                (self.journal(version)[:90], 'is not JSON'),
                ('[1, 2]', 'not a osc-hypervisor-servers-journal'),
                (
                    self.journal(version).replace(
                        f'"version": {version}', '"version": 7'
                    ),
                    'version 7',
                ),
                (
                    self.journal(version, id='../../os-services'),
                    "a server: id '../../os-services' is not a UUID",
                ),
                (
                    self.journal(version, id=None),
                    'a server: id None is not a UUID',
                ),
                (
                    self.journal(version, name=42),
                    f'server {self.SERVER_ID}: name is not text',
                ),
                (
                    self.journal(version, changes='all'),
                    f'server {self.SERVER_ID}: changes is not a list',
                ),
            ]:
                path = os.path.join(self.state_home, f'bad-{version}.json')
                with open(path, 'w') as journal_file:
                    journal_file.write(content)
                self.sandbox.reset_stats()
                exit_code, stdout, stderr = self.openstack(
                    'hypervisor', 'servers', 'restore', path
                )
                self.assertEqual(1, exit_code, content)
                self.assertEqual('', stdout)
                self.assertEqual(1, len(stderr.strip().splitlines()), stderr)
                self.assertIn(reason, stderr)
                # Nothing was sent to Nova.
                self.assertEqual(0, self.sandbox.stats()['total'], content)


class TestEvacuateAndBack(base.DrainTestCase):
    @base.drains('phoenix-1')
    def test_evacuate_repair_restore(self):
        running, stopped = self.boot_on('phoenix-1', 2)
        self.server_action(stopped, 'os-stop')
        self.wait_for_status(stopped, 'SHUTOFF')
        self.set_service('phoenix-1', forced_down=True)
        self.addCleanup(self.set_service, 'phoenix-1', forced_down=False)
        exit_code, rows, stderr = self.hypervisor_servers(
            'evacuate', 'phoenix-1'
        )
        self.assertEqual(0, exit_code, stderr)
        journal = self.journal_of(stderr)
        for server_id in (running, stopped):
            host, status = self.where(server_id)
            self.assertIn(host, base.DRAIN_SPARES)
            self.assertEqual('SHUTOFF', status)

        # The repair: the compute restarts (and cleans up what was
        # evacuated from it); then it may be marked up, and enabled.
        self.sandbox.restart_compute('phoenix-1')
        self.set_service('phoenix-1', forced_down=False)
        self.set_service('phoenix-1', status='enabled')
        self.origin_closed_after('phoenix-1')
        self.wait_until(lambda: self.service('phoenix-1')['state'] == 'up')

        exit_code, rows, stderr = self.hypervisor_servers('restore', journal)
        self.assertEqual(0, exit_code, f'{stderr}{rows}')
        results = {row['ID']: row for row in rows}
        self.assertEqual(
            ('migrated', 'cold migration'),
            (results[running]['Result'], results[running]['Action']),
        )
        # Its power state is not changed, and its row says what it was.
        self.assertIn(
            'it was ACTIVE before the run', results[running]['Details']
        )
        self.assertNotIn('before the run', results[stopped]['Details'])
        for server_id in (running, stopped):
            self.assertEqual(('phoenix-1', 'SHUTOFF'), self.where(server_id))

    def origin_closed_after(self, host):
        self.addCleanup(self.set_service, host, status='disabled')
