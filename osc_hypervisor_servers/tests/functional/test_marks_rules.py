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


"""Marks that Nova would refuse, against the real Nova: a SHELVED server,
and a server whose migration is under way.
"""

from osc_hypervisor_servers.tests.functional import base


class TestMarksNovaWouldRefuse(base.DrainTestCase):
    @base.drains('marks-1')
    def test_a_shelved_server_is_skipped_and_a_moving_one_waited_for(self):
        shelved, moving = self.boot_on('marks-1', 2)
        self.server_action(shelved, 'shelve')
        self.wait_for_status(shelved, 'SHELVED')
        # A live migration that takes long enough to be under way when
        # the command lists the servers.
        self.sandbox.set_move_seconds(8)
        self.addCleanup(self.sandbox.set_move_seconds, 0)
        self.api(
            'POST',
            f'/servers/{moving}/action',
            {'os-migrateLive': {'host': None, 'block_migration': 'auto'}},
        )
        self.wait_until(
            lambda: self.server(moving)['OS-EXT-STS:task_state'] is not None
        )
        self.sandbox.reset_stats()
        exit_code, rows, stderr = self.hypervisor_servers(
            'set', 'marks-1',
            '--property', f'{self.mark}=1', '--tag', self.mark,
            '--description', self.mark,
        )  # fmt: skip
        self.assertEqual(1, exit_code)
        self.assertIn('0 of 2 servers failed, 1 skipped', stderr)
        results = {row['ID']: row for row in rows}
        self.assertEqual('skipped', results[shelved]['Result'])
        self.assertIn(
            f'skipped set property {self.mark}=1: Nova changes properties of '
            f'ACTIVE, PAUSED, SUSPENDED or SHUTOFF servers only, this one is '
            f'SHELVED',
            results[shelved]['Details'],
        )
        self.assertIn(
            f'skipped add tag {self.mark}: Nova changes tags',
            results[shelved]['Details'],
        )
        self.assertEqual('changed', results[moving]['Result'])
        shelved_now, moving_now = self.server(shelved), self.server(moving)
        # The description, which Nova accepts in any state, is written.
        self.assertEqual(self.mark, shelved_now['description'])
        self.assertNotIn(self.mark, shelved_now['metadata'])
        self.assertNotIn(self.mark, shelved_now['tags'])
        # Changed once its migration ended, wherever it went.
        self.assertIsNone(moving_now['OS-EXT-STS:task_state'])
        self.assertIn(moving_now['OS-EXT-SRV-ATTR:host'], base.DRAIN_SPARES)
        self.assertEqual('1', moving_now['metadata'][self.mark])
        self.assertIn(self.mark, moving_now['tags'])
