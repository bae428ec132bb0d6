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

from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.tests.unit import fakes


def plan(status, mode, task_state=None, target=None):
    return planning.plan_move(
        fakes.server_state(status=status, task_state=task_state),
        mode,
        target,
    )


def kind_of(status, mode):
    planned = plan(status, mode)
    if isinstance(planned, planning.StayPlan):
        return None
    return planned.kind


class TestPlanMove(testtools.TestCase):
    def test_auto_moves_each_server_the_way_its_state_allows(self):
        for status, kind in [
            ('ACTIVE', kinds.LIVE),
            ('PAUSED', kinds.LIVE),
            ('SHUTOFF', kinds.COLD),
            ('ERROR', None),
            ('SHELVED', None),
            ('BUILD', None),
            ('SUSPENDED', None),
            ('VERIFY_RESIZE', None),
        ]:
            self.assertEqual(kind, kind_of(status, 'auto'), status)
        self.assertEqual(
            planning.StayPlan(
                fakes.server_state(status='ERROR'),
                'ERROR: only ACTIVE or PAUSED servers are live migrated and '
                'SHUTOFF ones cold migrated',
            ),
            plan('ERROR', 'auto'),
        )

    def test_forced_kind_skips_what_it_cannot_move(self):
        self.assertEqual(kinds.LIVE, kind_of('PAUSED', 'live'))
        self.assertEqual(
            'SHUTOFF: a live migration needs ACTIVE or PAUSED',
            plan('SHUTOFF', 'live').reason,
        )
        self.assertEqual(kinds.COLD, kind_of('ACTIVE', 'cold'))
        self.assertEqual(
            'PAUSED: a cold migration needs ACTIVE or SHUTOFF',
            plan('PAUSED', 'cold').reason,
        )

    def test_evacuate(self):
        for status in ('ACTIVE', 'SHUTOFF', 'ERROR'):
            self.assertEqual(kinds.EVACUATE, kind_of(status, 'evacuate'))
        self.assertIsNone(kind_of('SUSPENDED', 'evacuate'))

    def test_a_task_under_way_is_never_touched(self):
        busy = plan('ACTIVE', 'auto', task_state='powering-off')
        self.assertEqual('ACTIVE: task powering-off in progress', busy.reason)

    def test_a_move_under_way_is_followed(self):
        for task_state, kind in (
            ('migrating', kinds.LIVE),
            ('resize_migrating', kinds.COLD),
            ('rebuild_spawning', kinds.EVACUATE),
        ):
            moving = plan('ACTIVE', 'live', task_state=task_state)
            self.assertIsInstance(moving, planning.MovePlan)
            self.assertEqual((kind, True), (moving.kind, moving.underway))

    def test_target(self):
        self.assertEqual(
            'dst-1', plan('ACTIVE', 'auto', target='dst-1').target
        )


class TestBodies(testtools.TestCase):
    def test_the_action_of_each_kind(self):
        self.assertEqual(
            {'os-migrateLive': {'host': None, 'block_migration': 'auto'}},
            kinds.LIVE.body(None),
        )
        self.assertEqual({'migrate': None}, kinds.COLD.body(None))
        self.assertEqual({'migrate': {'host': 'h'}}, kinds.COLD.body('h'))
        self.assertEqual({'evacuate': {}}, kinds.EVACUATE.body(None))
        self.assertEqual({'evacuate': {'host': 'h'}}, kinds.EVACUATE.body('h'))
