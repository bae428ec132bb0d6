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

from osc_hypervisor_servers import attributes
from osc_hypervisor_servers import changes
from osc_hypervisor_servers import plan
from osc_hypervisor_servers.tests.unit import fakes

server = fakes.server_state
DESCRIPTION = attributes.description()
change = attributes.AttributeChange


def kinds_and_changes(server_plan):
    return [(type(call).__name__, call.changes) for call in server_plan.calls]


class TestPlanSet(testtools.TestCase):
    def test_everything_new(self):
        wanted = changes.change_to_set(
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
            kinds_and_changes(plan.plan_server(server(), wanted)),
        )

    def test_nothing_when_already_so(self):
        wanted = changes.change_to_set(
            properties={'a': '1'}, description='d', tags=['x']
        )
        current = server(
            metadata={'a': '1', 'z': '9'}, tags=['x'], description='d'
        )
        self.assertEqual((), plan.plan_server(current, wanted).calls)

    def test_only_what_differs_and_what_it_replaces(self):
        wanted = changes.change_to_set(
            properties={'a': '1', 'b': '2'}, description='d', tags=['x', 'y']
        )
        current = server(
            metadata={'a': '1', 'b': 'old'}, tags=['x'], description='e'
        )
        server_plan = plan.plan_server(current, wanted)
        self.assertEqual(
            "set description 'd' (was 'e'), set property b=2 (was old), "
            "add tag y",
            plan.describe(server_plan.calls),
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
        wanted = changes.change_to_set(description='')
        self.assertEqual(
            "set description '' (was 'd')",
            plan.describe(
                plan.plan_server(server(description='d'), wanted).calls
            ),
        )
        self.assertEqual(
            (), plan.plan_server(server(description=''), wanted).calls
        )


class TestPlanUnset(testtools.TestCase):
    def test_removes_only_what_is_there(self):
        wanted = changes.change_to_unset(
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
            plan.describe(plan.plan_server(current, wanted).calls),
        )

    def test_nothing_to_remove(self):
        wanted = changes.change_to_unset(
            property_keys=['a'], description=True, tags=['x']
        )
        self.assertEqual((), plan.plan_server(server(), wanted).calls)

    def test_an_empty_description_is_removed(self):
        # "" and no description are two values to Nova.
        wanted = changes.change_to_unset(description=True)
        self.assertEqual(
            "unset description (was '')",
            plan.describe(
                plan.plan_server(server(description=''), wanted).calls
            ),
        )


class TestCalls(testtools.TestCase):
    def test_describe(self):
        calls = plan.calls_for(
            [
                change(attributes.tag('u'), True, False),
                change(attributes.property_('b'), 'x', '2'),
                change(attributes.property_('k'), 'v', None),
                change(attributes.tag('t'), False, True),
                change(attributes.property_('a'), None, '1'),
                change(DESCRIPTION, None, 'hi'),
            ]
        )
        self.assertEqual(
            "set description 'hi', set property a=1, b=2 (was x), "
            "unset property k (was v), add tag t, remove tag u",
            plan.describe(calls),
        )

    def test_is_done(self):
        (set_properties,) = plan.calls_for(
            [
                change(attributes.property_('a'), None, '1'),
                change(attributes.property_('b'), None, '2'),
            ]
        )
        self.assertTrue(
            set_properties.is_done(server(metadata={'a': '1', 'b': '2'}))
        )
        self.assertFalse(set_properties.is_done(server(metadata={'a': '1'})))
        (remove_tag,) = plan.calls_for(
            [change(attributes.tag('t'), True, False)]
        )
        self.assertTrue(remove_tag.is_done(server(tags=['other'])))
        self.assertFalse(remove_tag.is_done(server(tags=['t'])))
        (unset_description,) = plan.calls_for([change(DESCRIPTION, 'd', None)])
        self.assertTrue(unset_description.is_done(server()))
        self.assertFalse(unset_description.is_done(server(description='')))
