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

"""A journal is untrusted input, and journals are written side by side."""

import json
import os

from osc_hypervisor_servers.tests.functional import base


class TestJournalsAsInput(base.FunctionalTestCase):
    def assertRefused(self, path, reason):
        self.sandbox.reset_stats()
        exit_code, stdout, stderr = self.openstack(
            'hypervisor', 'servers', 'restore', path
        )
        self.assertEqual(1, exit_code, stderr)
        self.assertEqual('', stdout)
        self.assertEqual(1, len(stderr.strip().splitlines()), stderr)
        self.assertIn(reason, stderr)
        self.assertEqual(0, self.sandbox.stats()['total'])

    def test_what_is_no_journal_is_refused_before_any_request(self):
        fifo = os.path.join(self.state_home, 'fifo')
        os.mkfifo(fifo)
        huge = os.path.join(self.state_home, 'huge.json')
        with open(huge, 'wb') as journal_file:
            # Sparse: the size is known without a byte on disk.
            journal_file.truncate(200 * 1024 * 1024)
        nested = os.path.join(self.state_home, 'nested.json')
        with open(nested, 'w') as journal_file:
            journal_file.write('[' * 100_000)
        for path, reason in (
            ('/dev/zero', 'is not a regular file'),
            (fifo, 'is not a regular file'),
            (self.state_home, 'is not a regular file'),
            (huge, 'is larger than 128 MiB'),
            (nested, 'is not JSON: nested too deeply'),
        ):
            self.assertRefused(path, reason)

    def test_an_edited_journal_never_writes_onto_another_projects_server(self):
        ours = self.servers_on('compute-1')
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'compute-1', '--tag', self.mark
        )
        self.assertEqual(0, exit_code, stderr)
        journal = self.journal_of(stderr)
        with open(journal) as journal_file:
            document = json.load(journal_file)
        entry = document['servers'][0]
        # A server of the other project, on another hypervisor, that
        # holds what the journal says the run wrote.
        (stranger,) = [
            server
            for server in self.all_servers().values()
            if server['OS-EXT-SRV-ATTR:hypervisor_hostname'] == 'compute-10'
            and server['tenant_id'] != entry['project_id']
        ][:1]
        self.api('PUT', f'/servers/{stranger["id"]}/tags/{self.mark}')
        self.addCleanup(
            self.api, 'DELETE', f'/servers/{stranger["id"]}/tags/{self.mark}'
        )
        victim = entry['id']
        entry['id'] = stranger['id']
        edited = os.path.join(self.state_home, 'edited.json')
        with open(edited, 'w') as journal_file:
            json.dump(document, journal_file)
        exit_code, rows, stderr = self.hypervisor_servers('restore', edited)
        self.assertEqual(1, exit_code, stderr)
        results = {row['ID']: row for row in rows}
        self.assertEqual('skipped', results[stranger['id']]['Result'])
        self.assertEqual(
            f'not touched: the server is in project {stranger["tenant_id"]}, '
            f'the journal recorded project {entry["project_id"]}',
            results[stranger['id']]['Details'],
        )
        self.assertIn(self.mark, self.server(stranger['id'])['tags'])
        # The other servers of the journal were restored.
        for server_id in set(ours) - {victim}:
            self.assertEqual('changed', results[server_id]['Result'])
            self.assertNotIn(self.mark, self.server(server_id)['tags'])
        self.api('DELETE', f'/servers/{victim}/tags/{self.mark}')

    def test_two_first_runs_create_the_journal_directory_side_by_side(self):
        directory = os.path.join(
            self.state_home, 'osc-hypervisor-servers', 'journal'
        )
        self.assertFalse(os.path.exists(directory))
        commands = [
            self.start_openstack(
                'hypervisor',
                'servers',
                'set',
                'compute-2',
                '--tag',
                f'{self.mark}-{n}',
                '-f',
                'json',
            )  # fmt: skip
            for n in (1, 2)
        ]
        for command in commands:
            exit_code, rows, stderr = self.finish(command)
            self.assertEqual(0, exit_code, stderr)
            self.addCleanup(
                self.hypervisor_servers, 'restore', self.journal_of(stderr)
            )
        self.assertEqual(2, len(os.listdir(directory)))
        for server_id in self.servers_on('compute-2'):
            tags = self.server(server_id)['tags']
            self.assertIn(f'{self.mark}-1', tags)
            self.assertIn(f'{self.mark}-2', tags)
