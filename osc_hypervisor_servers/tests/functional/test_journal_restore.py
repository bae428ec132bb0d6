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


"""The journal and restore, against the real Nova: nothing is lost."""

import json
import os
import signal
import stat
import time

from osc_hypervisor_servers.tests.functional import base


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def state_of(server, key):
    """What a run may change on a server, as the API shows it."""
    return {
        'description': server['description'],
        'property': server['metadata'].get(key),
        'tags': sorted(server['tags']),
    }


class JournalTestCase(base.FunctionalTestCase):
    def states(self, server_ids):
        return {
            server_id: state_of(self.server(server_id), self.mark)
            for server_id in server_ids
        }

    def put_back(self, server_ids):
        """Give the servers the state they had, whatever a test did."""
        before = {
            server_id: self.server(server_id) for server_id in server_ids
        }

        def restore_all():
            for server_id, server in before.items():
                self.api(
                    'PUT',
                    f'/servers/{server_id}',
                    {'server': {'description': server['description']}},
                )
                self.api(
                    'PUT',
                    f'/servers/{server_id}/metadata',
                    {'metadata': server['metadata']},
                )
                self.api(
                    'PUT',
                    f'/servers/{server_id}/tags',
                    {'tags': server['tags']},
                )

        self.addCleanup(restore_all)


class TestSetThenRestore(JournalTestCase):
    def test_restore_gives_back_all_but_what_the_tenant_changed(self):
        first, second, third = self.servers_on('compute-10')
        self.put_back([first, second, third])
        # Tenants' own values, which the run will replace.
        self.api(
            'PUT',
            f'/servers/{first}',
            {'server': {'description': 'web frontend'}},
            **self.as_owner(first),
        )
        self.api(
            'POST',
            f'/servers/{first}/metadata',
            {'metadata': {self.mark: 'tenant-value'}},
        )
        self.api('PUT', f'/servers/{second}/tags/{self.mark}')
        original = self.states([first, second, third])

        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-10',
            '--description', 'compute-10 down',
            '--property', f'{self.mark}=2026-12-01',
            '--tag', self.mark,
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        details = {row['ID']: row['Details'] for row in rows}
        self.assertIn(
            "set description 'compute-10 down' (was 'web frontend')",
            details[first],
        )
        self.assertIn(
            f'set property {self.mark}=2026-12-01 (was tenant-value)',
            details[first],
        )
        journal = self.journal_of(stderr)
        self.assertIn(
            f'To undo it: openstack hypervisor servers restore {journal}',
            stderr,
        )
        self.assertEqual(0o600, mode(journal))
        self.assertEqual(0o700, mode(os.path.dirname(journal)))
        self.assertEqual(
            0o700, mode(os.path.dirname(os.path.dirname(journal)))
        )

        # The third server's owner rewrites its description meanwhile.
        self.api(
            'PUT',
            f'/servers/{third}',
            {'server': {'description': 'owner rewrote it'}},
            **self.as_owner(third),
        )

        # A dry run first: it writes nothing.
        self.sandbox.reset_stats()
        exit_code, rows, stderr = self.hypervisor_servers(
            'restore', journal, '--dry-run'
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(0, self.writes())
        self.assertEqual(['would change'] * 3, [row['Result'] for row in rows])

        exit_code, rows, stderr = self.hypervisor_servers('restore', journal)
        self.assertEqual(0, exit_code, stderr)
        details = {row['ID']: row['Details'] for row in rows}
        self.assertIn(
            "kept description 'owner rewrote it': changed since the run",
            details[third],
        )
        expected = dict(original)
        expected[third] = dict(original[third], description='owner rewrote it')
        self.assertEqual(expected, self.states([first, second, third]))
        # The second server had the tag before the run: it keeps it.
        self.assertIn(self.mark, self.server(second)['tags'])
        # The restore was journaled too, against the first journal.
        restore_journal = self.journal_of(stderr)
        with open(restore_journal) as journal_file:
            document = json.load(journal_file)
        self.assertEqual('restore', document['verb'])
        self.assertEqual(journal, document['restores'])

    def test_unset_then_restore(self):
        first, second, third = self.servers_on('compute-2')
        self.put_back([first, second, third])
        for server_id in (first, second):
            self.api(
                'PUT',
                f'/servers/{server_id}',
                {'server': {'description': f'own {server_id[:8]}'}},
            )
            self.api(
                'POST',
                f'/servers/{server_id}/metadata',
                {'metadata': {self.mark: 'owner value'}},
            )
            self.api('PUT', f'/servers/{server_id}/tags/{self.mark}')
        original = self.states([first, second, third])
        exit_code, rows, stderr = self.hypervisor_servers(
            'unset', 'compute-2',
            '--description', '--property', self.mark, '--tag', self.mark,
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        details = ' '.join(row['Details'] for row in rows)
        self.assertIn(f'unset property {self.mark} (was owner value)', details)
        exit_code, rows, stderr = self.hypervisor_servers(
            'restore', self.journal_of(stderr)
        )
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(original, self.states([first, second, third]))

    def test_set_killed_mid_run_is_undone_by_its_journal(self):
        servers = self.servers_on('compute-1')
        self.put_back(servers)
        self.api(
            'PUT',
            f'/servers/{servers[0]}',
            {'server': {'description': 'before the kill'}},
        )
        original = self.states(servers)
        self.sandbox.set_latency(300)
        self.addCleanup(self.sandbox.set_latency, 0)
        command = self.start_openstack_and_wait_for_a_write(
            'hypervisor', 'servers', 'set', 'compute-1',
            '--description', 'killed run', '--property', f'{self.mark}=1',
            '--tag', self.mark, '--parallel', '1',
        )  # fmt: skip
        # The second write goes out once the first was answered: the
        # run is then half-way through the first server.
        deadline = time.monotonic() + 60
        while self.writes() < 2:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.02)
        command.send_signal(signal.SIGKILL)
        command.wait()
        self.sandbox.set_latency(0)
        # The write in flight still lands: Nova does not know the client
        # is gone.
        time.sleep(0.5)
        journals = os.path.join(
            self.state_home, 'osc-hypervisor-servers', 'journal'
        )
        (name,) = os.listdir(journals)
        journal = os.path.join(journals, name)
        with open(journal) as journal_file:
            document = json.load(journal_file)
        self.assertIsNone(document['finished_at'])
        self.assertEqual(
            sorted(servers), sorted(s['id'] for s in document['servers'])
        )
        # The run was cut short: some servers were changed, not all.
        self.assertNotEqual(original, self.states(servers))
        exit_code, rows, stderr = self.hypervisor_servers('restore', journal)
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(original, self.states(servers))


class TestRestoreAfterChanges(JournalTestCase):
    def test_a_server_deleted_since_is_reported_not_a_crash(self):
        (doomed,) = self.sandbox.boot('compute-2', 1)
        self.addCleanup(self.sandbox.api, 'DELETE', f'/servers/{doomed}')
        others = [s for s in self.servers_on('compute-2') if s != doomed]
        self.put_back(others)
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-2', '--property', f'{self.mark}=1'
        )
        self.assertEqual(0, exit_code, stderr)
        self.api('DELETE', f'/servers/{doomed}')
        self.wait_until_gone(doomed)
        exit_code, rows, stderr = self.hypervisor_servers(
            'restore', self.journal_of(stderr)
        )
        self.assertEqual(0, exit_code, stderr)
        results = {row['ID']: (row['Result'], row['Details']) for row in rows}
        self.assertEqual(
            ('gone', 'the server no longer exists'), results[doomed]
        )
        for server_id in others:
            self.assertEqual('changed', results[server_id][0])
            self.assertNotIn(self.mark, self.server(server_id)['metadata'])

    def wait_until_gone(self, server_id, timeout=60):
        deadline = time.monotonic() + timeout
        while self.sandbox.api('GET', f'/servers/{server_id}')[0] != 404:
            self.assertLess(time.monotonic(), deadline, 'never deleted')
            time.sleep(0.2)


class TestExactCharacters(JournalTestCase):
    def test_non_ascii_tags_are_refused_before_any_write(self):
        self.assertRefusedWithoutWrites(
            'set', [['compute-1', '--tag', 'ünï', '--property', 'k=v']]
        )
        self.assertRefusedWithoutWrites(
            'unset', [['compute-1', '--tag', 'naïve']]
        )

    def test_non_ascii_values_are_stored_as_given(self):
        servers = self.servers_on('compute-2')
        self.put_back(servers)
        original = self.states(servers)
        description = 'Zürich rack 4 – maintenance ✓'
        value = 'naïve ünï ✓'
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-2',
            '--description', description, '--property', f'{self.mark}={value}',
        )  # fmt: skip
        self.assertEqual(0, exit_code, stderr)
        for server_id in servers:
            server = self.server(server_id)
            self.assertEqual(description, server['description'])
            self.assertEqual(value, server['metadata'][self.mark])
        journal = self.journal_of(stderr)
        with open(journal, encoding='utf-8') as journal_file:
            self.assertIn(value, journal_file.read())
        exit_code, rows, stderr = self.hypervisor_servers('restore', journal)
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(original, self.states(servers))
