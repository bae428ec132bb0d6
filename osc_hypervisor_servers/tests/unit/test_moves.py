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


import testtools

from osc_hypervisor_servers import moves
from osc_hypervisor_servers.tests.unit import fakes


def plan(status, mode, task_state=None, target=None):
    return moves.plan_move(
        fakes.server_state(status=status, task_state=task_state),
        mode,
        target,
    )


class TestPlanMove(testtools.TestCase):
    def test_auto_moves_each_server_the_way_its_state_allows(self):
        for status, kind in [
            ('ACTIVE', 'live'),
            ('PAUSED', 'live'),
            ('SHUTOFF', 'cold'),
            ('ERROR', None),
            ('SHELVED', None),
            ('BUILD', None),
            ('SUSPENDED', None),
            ('VERIFY_RESIZE', None),
        ]:
            self.assertEqual(kind, plan(status, 'auto').kind, status)
        self.assertEqual(
            'ERROR: only ACTIVE or PAUSED servers are live migrated and '
            'SHUTOFF ones cold migrated',
            plan('ERROR', 'auto').reason,
        )

    def test_forced_kind_skips_what_it_cannot_move(self):
        self.assertEqual('live', plan('PAUSED', 'live').kind)
        skipped = plan('SHUTOFF', 'live')
        self.assertIsNone(skipped.kind)
        self.assertEqual(
            'SHUTOFF: a live migration needs ACTIVE or PAUSED', skipped.reason
        )
        self.assertEqual('cold', plan('ACTIVE', 'cold').kind)
        self.assertEqual(
            'PAUSED: a cold migration needs ACTIVE or SHUTOFF',
            plan('PAUSED', 'cold').reason,
        )

    def test_evacuate(self):
        for status in ('ACTIVE', 'SHUTOFF', 'ERROR'):
            self.assertEqual('evacuate', plan(status, 'evacuate').kind)
        self.assertIsNone(plan('SUSPENDED', 'evacuate').kind)

    def test_a_task_under_way_is_never_touched(self):
        busy = plan('ACTIVE', 'auto', task_state='migrating')
        self.assertIsNone(busy.kind)
        self.assertEqual('ACTIVE: task migrating in progress', busy.reason)

    def test_target(self):
        self.assertEqual(
            'dst-1', plan('ACTIVE', 'auto', target='dst-1').target
        )
