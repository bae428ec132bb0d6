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

"""The last word is Nova's: a second operator, a dead API, odd names.

Two runs of one verb on one host at once, a restore run again right after
one was killed, faults on every read of the pre-flight, nova-api stopped
mid-drain, node names with regular-expression characters. Each test
reads the truth back through the API: where every server is, and how
many times it moved.
"""

import json
import re
import signal
import time

from osc_hypervisor_servers.tests.functional import base

ANOTHER = 'by another request'


class TestContention(base.DrainTestCase):
    def both(self, *args):
        """Run ``hypervisor servers <args>`` twice at once; both results."""
        commands = [
            self.start_openstack('hypervisor', 'servers', *args, '-f', 'json')
            for _ in range(2)
        ]
        return [self.finish(command) for command in commands]

    def assertNoRowBlamesUs(self, runs, servers):
        """No row of either run failed; every server was moved by one
        run, and a row of the other, if it has one, says so.
        """
        movers: dict[str, list[dict[str, str]]] = {s: [] for s in servers}
        for exit_code, rows, stderr in runs:
            self.assertEqual(0, exit_code, f'{stderr}{rows}')
            for row in rows:
                self.assertEqual('migrated', row['Result'], row)
                if ANOTHER not in row['Details']:
                    movers[row['ID']].append(row)
        for server_id, rows in movers.items():
            self.assertEqual(1, len(rows), f'{server_id}: {rows}')
        others = [
            row
            for exit_code, rows, stderr in runs
            for row in rows
            if ANOTHER in row['Details']
        ]
        # Both runs worked on the same servers at once.
        self.assertTrue(others, runs)
        for row in others:
            self.assertEqual(self.where(row['ID'])[0], row['Destination'], row)
            self.assertTrue(row['Migration'], row)

    @base.drains('twice-1')
    def test_two_drains_of_one_host_at_once(self):
        servers = self.boot_on('twice-1', 6)
        self.set_service('twice-1', status='enabled')
        self.addCleanup(self.set_service, 'twice-1', status='disabled')
        runs = self.both('migrate', 'twice-1', '--disable-service')
        self.assertEqual([], self.servers_on('twice-1'))
        self.assertNoRowBlamesUs(runs, servers)
        for server_id in servers:
            self.assertIn(self.where(server_id)[0], base.DRAIN_SPARES)
            # Moved once, by one of the runs.
            self.assertEqual(1, len(self.records(server_id)))

    @base.drains('homing-1')
    def test_two_restores_at_once(self):
        servers = self.boot_on('homing-1', 6)
        exit_code, rows, stderr = self.hypervisor_servers(
            'migrate', 'homing-1'
        )
        self.assertEqual(0, exit_code, stderr)
        journal = self.journal_of(stderr)
        self.set_service('homing-1', status='enabled')
        self.addCleanup(self.set_service, 'homing-1', status='disabled')
        runs = self.both('restore', journal)
        self.assertNoRowBlamesUs(runs, servers)
        for server_id in servers:
            self.assertEqual(('homing-1', 'ACTIVE'), self.where(server_id))
            # Away once, and back once.
            self.assertEqual(2, len(self.records(server_id)))

    @base.drains('rerun-1')
    def test_a_restore_run_again_right_after_a_killed_one(self):
        servers = self.boot_on('rerun-1', 3)
        exit_code, rows, stderr = self.hypervisor_servers('migrate', 'rerun-1')
        self.assertEqual(0, exit_code, stderr)
        journal = self.journal_of(stderr)
        self.set_service('rerun-1', status='enabled')
        self.addCleanup(self.set_service, 'rerun-1', status='disabled')
        self.sandbox.set_move_seconds(3)
        self.addCleanup(self.sandbox.set_move_seconds, 0)
        killed = self.start_openstack_and_wait_for_a_write(
            'hypervisor', 'servers', 'restore', journal, '--parallel', '1'
        )
        # Its first move back is under way in Nova.
        self.wait_until(
            lambda: any(len(self.records(s)) == 2 for s in servers)
        )
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        exit_code, rows, stderr = self.hypervisor_servers('restore', journal)
        self.assertEqual(0, exit_code, f'{stderr}{rows}')
        self.assertEqual(
            ['migrated'] * 3, [row['Result'] for row in rows], rows
        )
        self.assertEqual(1, sum(ANOTHER in row['Details'] for row in rows))
        for server_id in servers:
            self.assertEqual(('rerun-1', 'ACTIVE'), self.where(server_id))
            self.assertEqual(2, len(self.records(server_id)))

    @base.drains('shaky-1')
    def test_faults_on_every_read_of_the_preflight(self):
        # Pinned to a zone, so that the pre-flight reads the zones too.
        self.set_service('shaky-1', status='enabled')
        try:
            servers = self.sandbox.boot('shaky-1', 2, availability_zone='nova')
        finally:
            self.set_service('shaky-1', status='disabled')
        self.addCleanup(self.sandbox.set_faults)
        self.sandbox.reset_stats()
        # The first read of each kind answered 503, the second dropped
        # once Nova has answered it.
        self.sandbox.set_faults(
            methods=['GET'],
            services=['compute', 'placement'],
            first=['faulted_503', 'dropped'],
        )
        exit_code, rows, stderr = self.hypervisor_servers('migrate', 'shaky-1')
        self.sandbox.set_faults()
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(['migrated'] * 2, [row['Result'] for row in rows])
        compute = self.sandbox.stats('compute')
        placement = self.sandbox.stats('placement')
        for stats, reads in (
            (compute, ('os-server-groups', 'os-availability-zone')),
            (placement, ('allocations', 'allocation_candidates')),
        ):
            for read in reads:
                # Faulted twice, then answered.
                self.assertGreaterEqual(
                    stats['by_resource'][f'GET {read}'], 3, stats
                )
            self.assertGreater(stats['faulted_503'], 0, stats)
            self.assertGreater(stats['dropped'], 0, stats)
        self.assertNotIn('Nova does not answer', stderr)
        for server_id in servers:
            self.assertIn(self.where(server_id)[0], base.DRAIN_SPARES)
            self.assertEqual(1, len(self.records(server_id)))


class TestNovaStopped(base.DrainTestCase):
    PATIENCE = 15

    def drain_while_down(self, host, seconds_down):
        """Drain ``host`` one server at a time, with nova-api down for
        ``seconds_down`` once its first move is sent (None: until the run
        ends).
        """
        self.sandbox.set_move_seconds(3)
        self.addCleanup(self.sandbox.set_move_seconds, 0)
        self.addCleanup(self.sandbox.set_down)
        command = self.start_openstack_and_wait_for_a_write(
            'hypervisor', 'servers', 'migrate', host, '--parallel', '1',
            '--unreachable-timeout', str(self.PATIENCE), '-f', 'json',
        )  # fmt: skip
        started = time.monotonic()
        self.sandbox.set_down(['compute', 'placement'])
        if seconds_down is not None:
            time.sleep(seconds_down)
            self.sandbox.set_down()
        exit_code, rows, stderr = self.finish(command)
        self.sandbox.set_down()
        return exit_code, rows, stderr, time.monotonic() - started

    def lines(self, stderr, text):
        return [line for line in stderr.splitlines() if text in line]

    @base.drains('outage-1')
    def test_a_short_outage_is_waited_out(self):
        servers = self.boot_on('outage-1', 2)
        self.PATIENCE = 60
        exit_code, rows, stderr, seconds = self.drain_while_down(
            'outage-1', 12
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(1, len(self.lines(stderr, 'Nova does not answer')))
        self.assertEqual(1, len(self.lines(stderr, 'Nova answers again')))
        self.assertEqual(['migrated'] * 2, [row['Result'] for row in rows])
        for server_id in servers:
            self.assertEqual(1, len(self.records(server_id)))

    @base.drains('dead-api-1')
    def test_a_drain_gives_up_on_a_dead_api_then_is_undone(self):
        servers = self.boot_on('dead-api-1', 3)
        exit_code, rows, stderr, seconds = self.drain_while_down(
            'dead-api-1', None
        )
        self.assertEqual(1, exit_code, stderr)
        # Within its patience (and the moves' own pace), not --timeout.
        self.assertLess(seconds, self.PATIENCE + 30)
        self.assertEqual(1, len(self.lines(stderr, 'Nova does not answer')))
        (last,) = stderr.strip().splitlines()[-1:]
        self.assertRegex(
            last,
            rf'Nova did not answer for {self.PATIENCE} s \(connection '
            r'refused or cut\): gave up, with 1 move in progress .* and 2 '
            r'not started',
        )
        results = sorted(row['Result'] for row in rows)
        self.assertEqual(
            ['in progress', 'not attempted', 'not attempted'], results
        )
        journal = self.journal_of(stderr)
        with open(journal) as journal_file:
            self.assertTrue(json.load(journal_file)['interrupted'])
        # Nova went on with the move in flight; the restore of the run
        # finds where it went and brings it home.
        self.wait_until(lambda: self.settled(servers))
        self.set_service('dead-api-1', status='enabled')
        self.addCleanup(self.set_service, 'dead-api-1', status='disabled')
        exit_code, rows, stderr = self.hypervisor_servers('restore', journal)
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(
            ['migrated', 'unchanged', 'unchanged'],
            sorted(row['Result'] for row in rows),
        )
        for server_id in servers:
            self.assertEqual(('dead-api-1', 'ACTIVE'), self.where(server_id))


class TestNodeNames(base.DrainTestCase):
    @base.drains(*base.DRAIN_NODES)
    def test_a_node_name_with_regular_expression_characters(self):
        odd = base.DRAIN_NODES['odd-1']
        pattern_match = base.DRAIN_NODES['odd-2']
        # Unescaped, the name is a pattern that matches the other node.
        self.assertTrue(re.fullmatch(odd, pattern_match))
        servers = self.boot_on('odd-1', 2)
        (bystander,) = self.boot_on('odd-2', 1)
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', odd, '--tag', self.mark
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(sorted(servers), sorted(row['ID'] for row in rows))
        for server_id in servers:
            self.assertIn(self.mark, self.server(server_id)['tags'])
        self.assertNotIn(self.mark, self.server(bystander)['tags'])
        exit_code, rows, stderr = self.hypervisor_servers('migrate', odd)
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(['migrated'] * 2, [row['Result'] for row in rows])
        self.assertEqual([], self.servers_on(odd))
        self.assertEqual([bystander], self.servers_on(pattern_match))
        self.assertEqual([], self.records(bystander))
