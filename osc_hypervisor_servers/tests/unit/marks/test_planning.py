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


"""Planning is pure: these tests make no HTTP call and need no mock."""

import testtools

from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.marks import change_request
from osc_hypervisor_servers.marks import planning
from osc_hypervisor_servers.marks import writes
from osc_hypervisor_servers.tests.unit import fakes

server = fakes.server_state
DESCRIPTION = attributes.description()
change = attributes.AttributeChange


def kinds_and_changes(server_plan):
    return [
        (type(write).__name__, write.changes) for write in server_plan.writes
    ]


class TestPlanSet(testtools.TestCase):
    def test_everything_new(self):
        wanted = change_request.to_set(
            properties={'a': '1', 'b': '2'}, description='d', tags=['x', 'y']
        )
        a, b = attributes.property_('a'), attributes.property_('b')
        x, y = attributes.tag('x'), attributes.tag('y')
        self.assertEqual(
            [
                ('UpdateDescription', (change(DESCRIPTION, None, 'd'),)),
                (
                    'SetProperties',
                    (change(a, None, '1'), change(b, None, '2')),
                ),
                ('AddTag', (change(x, False, True),)),
                ('AddTag', (change(y, False, True),)),
            ],
            kinds_and_changes(planning.plan_change(server(), wanted)),
        )

    def test_nothing_when_already_so(self):
        wanted = change_request.to_set(
            properties={'a': '1'}, description='d', tags=['x']
        )
        current = server(
            metadata={'a': '1', 'z': '9'}, tags=['x'], description='d'
        )
        self.assertEqual((), planning.plan_change(current, wanted).writes)

    def test_only_what_differs_and_what_it_replaces(self):
        wanted = change_request.to_set(
            properties={'a': '1', 'b': '2'}, description='d', tags=['x', 'y']
        )
        current = server(
            metadata={'a': '1', 'b': 'old'}, tags=['x'], description='e'
        )
        server_plan = planning.plan_change(current, wanted)
        self.assertEqual(
            "set description 'd' (was 'e'), set property b=2 (was old), "
            "add tag y",
            writes.describe(server_plan.writes),
        )
        self.assertEqual(
            (
                change(DESCRIPTION, 'e', 'd'),
                change(attributes.property_('b'), 'old', '2'),
                change(attributes.tag('y'), False, True),
            ),
            server_plan.changes,
        )

    def test_empty_description_is_a_value(self):
        wanted = change_request.to_set(description='')
        self.assertEqual(
            "set description '' (was 'd')",
            writes.describe(
                planning.plan_change(server(description='d'), wanted).writes
            ),
        )
        self.assertEqual(
            (), planning.plan_change(server(description=''), wanted).writes
        )


class TestPlanUnset(testtools.TestCase):
    def test_removes_only_what_is_there(self):
        wanted = change_request.to_unset(
            property_keys=['a', 'gone'], description=True, tags=['x', 'gone']
        )
        current = server(
            metadata={'a': '1', 'keep': '2'},
            tags=['x', 'keep'],
            description='d',
        )
        self.assertEqual(
            "unset description (was 'd'), unset property a (was 1), "
            "remove tag x",
            writes.describe(planning.plan_change(current, wanted).writes),
        )

    def test_nothing_to_remove(self):
        wanted = change_request.to_unset(
            property_keys=['a'], description=True, tags=['x']
        )
        self.assertEqual((), planning.plan_change(server(), wanted).writes)

    def test_an_empty_description_is_removed(self):
        # "" and no description are two values to Nova.
        wanted = change_request.to_unset(description=True)
        self.assertEqual(
            "unset description (was '')",
            writes.describe(
                planning.plan_change(server(description=''), wanted).writes
            ),
        )


MAINTENANCE = attributes.property_('maintenance')
OWNER = attributes.property_('owner')
TAG = attributes.tag('maintenance')


SET_RUN = (
    change(DESCRIPTION, 'web frontend', 'compute-7 down'),
    change(MAINTENANCE, None, 'yes'),
    change(OWNER, 'tenant', 'ops'),
    change(TAG, False, True),
)


class TestPlanUndo(testtools.TestCase):
    def test_undoes_what_still_holds(self):
        now = fakes.server_state(
            description='compute-7 down',
            metadata={'maintenance': 'yes', 'owner': 'ops', 'other': '1'},
            tags=['maintenance', 'web'],
        )
        server_plan = planning.plan_undo(SET_RUN, now)
        self.assertEqual(
            "set description 'web frontend' (was 'compute-7 down'), "
            'set property owner=tenant (was ops), '
            'unset property maintenance (was yes), remove tag maintenance',
            writes.describe(server_plan.writes),
        )
        self.assertEqual((), server_plan.notes)

    def test_keeps_what_changed_since(self):
        now = fakes.server_state(
            description='tenant rewrote it',
            metadata={'owner': 'ops', 'maintenance': 'tenant-new'},
            tags=['maintenance'],
        )
        server_plan = planning.plan_undo(SET_RUN, now)
        self.assertEqual(
            'set property owner=tenant (was ops), remove tag maintenance',
            writes.describe(server_plan.writes),
        )
        self.assertEqual(
            (
                "kept description 'tenant rewrote it': changed since the run",
                'kept property maintenance=tenant-new: changed since the run',
            ),
            server_plan.notes,
        )

    def test_nothing_when_already_as_before(self):
        # The run never reached this server, or it was restored already.
        now = fakes.server_state(
            description='web frontend', metadata={'owner': 'tenant'}
        )
        self.assertEqual((), planning.plan_undo(SET_RUN, now).writes)

    def test_undoes_an_unset(self):
        unset_run = (
            change(DESCRIPTION, 'web frontend', None),
            change(MAINTENANCE, 'tenant-value', None),
            change(TAG, True, False),
        )
        server_plan = planning.plan_undo(unset_run, fakes.server_state())
        self.assertEqual(
            "set description 'web frontend', "
            'set property maintenance=tenant-value, add tag maintenance',
            writes.describe(server_plan.writes),
        )

    def test_a_tag_the_server_had_before_stays(self):
        # set --tag maintenance on a server that had it: not journaled.
        run = (change(MAINTENANCE, None, 'yes'),)
        now = fakes.server_state(
            metadata={'maintenance': 'yes'}, tags=['maintenance']
        )
        self.assertEqual(
            'unset property maintenance (was yes)',
            writes.describe(planning.plan_undo(run, now).writes),
        )


class TestWhatNovaAccepts(testtools.TestCase):
    def test_a_state_nova_refuses_keeps_only_the_description(self):
        wanted = change_request.to_set(
            properties={'a': '1'}, description='d', tags=['x']
        )
        plan = planning.plan_change(server(status='SHELVED'), wanted)
        self.assertEqual("set description 'd'", writes.describe(plan.writes))
        rule = (
            'Nova changes {} of ACTIVE, PAUSED, SUSPENDED or SHUTOFF '
            'servers only, this one is SHELVED'
        )
        self.assertEqual(
            [
                ('set property a=1', rule.format('properties')),
                ('add tag x', rule.format('tags')),
            ],
            [(write.describe(), why) for write, why in plan.refused],
        )
        self.assertFalse(plan.waits)

    def test_every_state_nova_accepts(self):
        wanted = change_request.to_unset(property_keys=['a'], tags=['x'])
        for status in ('ACTIVE', 'PAUSED', 'SUSPENDED', 'SHUTOFF'):
            plan = planning.plan_change(
                server(status=status, metadata={'a': '1'}, tags=['x']), wanted
            )
            self.assertEqual((), plan.refused, status)
            self.assertEqual(2, len(plan.writes))

    def test_properties_wait_for_a_task_and_tags_do_not(self):
        moving = server(task_state='migrating')
        properties = planning.plan_change(
            moving, change_request.to_set(properties={'a': '1'})
        )
        tags = planning.plan_change(moving, change_request.to_set(tags=['x']))
        self.assertTrue(properties.waits)
        self.assertFalse(tags.waits)
        self.assertEqual(((), ()), (properties.refused, tags.refused))

    def test_an_undo_keeps_to_the_same_rules(self):
        run = (change(attributes.tag('x'), False, True),)
        plan = planning.plan_undo(run, server(status='ERROR', tags=['x']))
        self.assertEqual((), plan.writes)
        self.assertEqual(
            ['remove tag x'], [w.describe() for w, _ in plan.refused]
        )
