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

    def run_faulted(self, methods, seed, *args):
        """A run with 503s and dropped answers on ``methods``; every
        server must end ``changed``, the command exit 0.

        Seeded, and one server at a time: the same requests meet the
        same faults on every test run.
        """
        self.sandbox.reset_stats()
        self.sandbox.set_faults(
            error_rate=0.1, drop_rate=0.3, seed=seed, methods=methods
        )
        exit_code, rows, stderr = self.hypervisor_servers(
            *args, '--parallel', '1'
        )
        self.sandbox.set_faults()
        stats = self.sandbox.stats()
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(
            ['changed'] * len(rows), [row['Result'] for row in rows]
        )
        # Answers were lost, and the rows say the calls were retried.
        self.assertGreater(stats['dropped'], 0, stats)
        self.assertTrue(any('retr' in row['Details'] for row in rows))
        return rows, stderr

    def state(self, server_ids):
        return {
            server_id: (
                server['description'],
                server['metadata'].get(self.mark),
                self.mark in server['tags'],
            )
            for server_id, server in self.all_servers().items()
            if server_id in server_ids
        }

    def test_every_kind_of_write_lands_despite_lost_answers(self):
        servers = self.servers_on('compute-2')
        owned = servers[0]
        self.addCleanup(
            self.api,
            'PUT',
            f'/servers/{owned}',
            {'server': {'description': None}},
        )
        # One server has its owner's values; the run replaces them.
        self.api(
            'PUT', f'/servers/{owned}', {'server': {'description': 'own'}}
        )
        self.api(
            'POST',
            f'/servers/{owned}/metadata',
            {'metadata': {self.mark: 'own'}},
        )
        self.api('PUT', f'/servers/{owned}/tags/{self.mark}')
        original = self.state(servers)

        # set: POST (metadata) and PUT (description, tag).
        rows, stderr = self.run_faulted(
            ['POST', 'PUT'], 11,
            'set', 'compute-2',
            '--description', self.mark, '--property', f'{self.mark}=run',
            '--tag', self.mark,
        )  # fmt: skip
        set_journal = self.journal_of(stderr)
        marked = dict.fromkeys(servers, (self.mark, 'run', True))
        self.assertEqual(marked, self.state(servers))

        # unset: DELETE (metadata key, tag); a retried DELETE meets 404.
        rows, stderr = self.run_faulted(
            ['DELETE'], 12,
            'unset', 'compute-2',
            '--description', '--property', self.mark, '--tag', self.mark,
        )  # fmt: skip
        self.assertEqual(
            dict.fromkeys(servers, (None, None, False)),
            self.state(servers),
        )

        # restore of the unset: POST and PUT again.
        self.run_faulted(
            ['POST', 'PUT'], 13, 'restore', self.journal_of(stderr)
        )
        self.assertEqual(marked, self.state(servers))

        # restore of the set: every kind of write at once.
        self.run_faulted(['POST', 'PUT', 'DELETE'], 14, 'restore', set_journal)
        self.assertEqual(original, self.state(servers))

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


class TestServerGone(base.DrainTestCase):
    @base.drains('gone-1')
    def test_server_deleted_after_listing_is_reported(self):
        # Nova lists the newest first: the doomed server, booted first, is
        # written last, after the others' six writes of 500 ms each, long
        # after its delete (sent once the first write reached Nova).
        (doomed,) = self.boot_on('gone-1', 1)
        self.addCleanup(self.sandbox.api, 'DELETE', f'/servers/{doomed}')
        others = self.boot_on('gone-1', 3)
        self.sandbox.set_latency(500)
        self.addCleanup(self.sandbox.set_latency, 0)
        command = self.start_openstack_and_wait_for_a_write(
            'hypervisor', 'servers', 'set', 'gone-1',
            '--description', self.mark,
            '--property', f'{self.mark}=1',
            '--parallel', '1',
            '-f', 'json',
        )  # fmt: skip
        self.sandbox.api('DELETE', f'/servers/{doomed}')
        exit_code, rows, stderr = self.finish(command)
        self.assertEqual(1, exit_code, stderr)
        self.assertIn(f'1 of {len(others) + 1} servers failed', stderr)
        results = {row['ID']: row for row in rows}
        self.assertEqual('failed', results[doomed]['Result'])
        # Gone (404), or still being deleted (409): the reason is Nova's.
        self.assertRegex(results[doomed]['Details'], r': HTTP (404|409): ')
        for server_id in others:
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
