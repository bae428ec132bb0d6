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

"""Faults injected at the server: 503 answers and dropped connections."""

import signal

from osc_hypervisor_servers.tests.functional import base

WRITES = ('POST', 'PUT', 'DELETE')


class TestFaults(base.FunctionalTestCase):
    def setUp(self):
        super().setUp()
        self.addCleanup(self.sandbox.set_faults)

    def test_every_change_lands_or_is_reported(self):
        before = self.all_servers()
        self.sandbox.reset_stats()
        self.sandbox.set_faults(
            error_rate=0.3, drop_rate=0.15, seed=5, methods=WRITES
        )
        exit_code, rows, stderr = self.hypervisor_servers(
            'set',
            'compute-2',
            '--property', f'{self.mark}=1',
            '--tag', self.mark,
            '--description', self.mark,
        )  # fmt: skip
        self.sandbox.set_faults()
        stats = self.sandbox.stats()
        after = self.all_servers()
        on_compute_2 = self.servers_on('compute-2')
        self.assertEqual(on_compute_2, sorted(row['ID'] for row in rows))
        failed = [row for row in rows if row['Result'] == 'failed']
        self.assertEqual(1 if failed else 0, exit_code, stderr)
        for row in rows:
            if row['Result'] == 'changed':
                self.assertChanged(
                    after[row['ID']],
                    properties={self.mark: '1'},
                    tags=[self.mark],
                    description=self.mark,
                )
            else:
                self.assertEqual('failed', row['Result'])
                self.assertIn('(after 4 retries)', row['Details'])
        # Every fault was met by a retry that the table reports.
        self.assertGreater(stats['faulted_503'] + stats['dropped'], 0)
        self.assertTrue(any('retr' in row['Details'] for row in rows))
        self.assertUntouched(
            {k: v for k, v in before.items() if k not in on_compute_2}, after
        )

    def test_exhausted_retries_are_reported_per_server(self):
        before = self.all_servers()
        self.sandbox.set_faults(error_rate=1.0, methods=WRITES)
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-1', '--tag', self.mark
        )
        self.sandbox.set_faults()
        self.assertEqual(1, exit_code)
        count = base.SERVERS_PER_HOST
        self.assertIn(f'{count} of {count} servers failed', stderr)
        for row in rows:
            self.assertEqual('failed', row['Result'])
            self.assertIn('HTTP 503', row['Details'])
            self.assertIn('(after 4 retries)', row['Details'])
        self.assertUntouched(before, self.all_servers())


class TestServerGone(base.FunctionalTestCase):
    def test_server_deleted_after_listing_is_reported(self):
        (doomed,) = self.sandbox.boot('compute-2', 1)
        self.addCleanup(self.sandbox.api, 'DELETE', f'/servers/{doomed}')
        self.sandbox.set_latency(500)
        self.addCleanup(self.sandbox.set_latency, 0)
        # Each call waits 500 ms at the server, so the delete lands after
        # the listing, while the doomed server's calls are under way.
        command = self.start_openstack_and_wait_for_a_write(
            'hypervisor', 'servers', 'set', 'compute-2',
            '--description', self.mark,
            '--property', f'{self.mark}=1',
            '-f', 'json',
        )  # fmt: skip
        self.sandbox.api('DELETE', f'/servers/{doomed}')
        exit_code, rows, stderr = self.finish(command)
        self.assertEqual(1, exit_code)
        self.assertIn(
            f'1 of {base.SERVERS_PER_HOST + 1} servers failed', stderr
        )
        results = {row['ID']: row for row in rows}
        self.assertEqual('failed', results[doomed]['Result'])
        # Gone (404), or still being deleted (409): the reason is Nova's.
        self.assertRegex(results[doomed]['Details'], r': HTTP (404|409): ')
        for server_id in self.servers_on('compute-2'):
            self.assertEqual('changed', results[server_id]['Result'])


class TestInterrupt(base.FunctionalTestCase):
    def test_ctrl_c_finishes_in_flight_and_prints_the_table(self):
        self.sandbox.set_latency(300)
        self.addCleanup(self.sandbox.set_latency, 0)
        command = self.start_openstack_and_wait_for_a_write(
            'hypervisor', 'servers', 'set', 'compute-1',
            '--property', f'{self.mark}=1', '--parallel', '1',
            '-f', 'json',
        )  # fmt: skip
        command.send_signal(signal.SIGINT)
        exit_code, rows, stderr = self.finish(command)
        self.assertEqual(130, exit_code)
        results = [row['Result'] for row in rows]
        self.assertEqual(base.SERVERS_PER_HOST, len(rows))
        changed = results.count('changed')
        not_attempted = results.count('not attempted')
        # The write in flight when Ctrl-C came finished; the rest waited.
        self.assertGreaterEqual(changed, 1)
        self.assertGreaterEqual(not_attempted, 1)
        self.assertEqual(base.SERVERS_PER_HOST, changed + not_attempted)
        self.assertIn(
            f'Interrupted: 0 of {base.SERVERS_PER_HOST} servers failed, '
            f'{not_attempted} not attempted',
            stderr,
        )
        for row in rows:
            metadata = self.server(row['ID'])['metadata']
            self.assertEqual(row['Result'] == 'changed', self.mark in metadata)
