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

from osc_hypervisor_servers import changes
from osc_hypervisor_servers import plan
from osc_hypervisor_servers.tests.unit import fakes

server = fakes.server_state


class TestPlanSet(testtools.TestCase):
    def test_everything_new(self):
        change = changes.change_to_set(
            properties={'a': '1', 'b': '2'}, description='d', tags=['x', 'y']
        )
        self.assertEqual(
            (
                plan.UpdateDescription('d'),
                plan.SetProperties({'a': '1', 'b': '2'}),
                plan.AddTag('x'),
                plan.AddTag('y'),
            ),
            plan.plan_server(server(), change),
        )

    def test_nothing_when_already_so(self):
        change = changes.change_to_set(
            properties={'a': '1'}, description='d', tags=['x']
        )
        current = server(
            metadata={'a': '1', 'z': '9'}, tags=['x'], description='d'
        )
        self.assertEqual((), plan.plan_server(current, change))

    def test_only_what_differs(self):
        change = changes.change_to_set(
            properties={'a': '1', 'b': '2'}, description='d', tags=['x', 'y']
        )
        current = server(
            metadata={'a': '1', 'b': 'old'}, tags=['x'], description='e'
        )
        self.assertEqual(
            (
                plan.UpdateDescription('d'),
                plan.SetProperties({'b': '2'}),
                plan.AddTag('y'),
            ),
            plan.plan_server(current, change),
        )

    def test_empty_description_is_a_value(self):
        change = changes.change_to_set(description='')
        self.assertEqual(
            (plan.UpdateDescription(''),),
            plan.plan_server(server(description='d'), change),
        )
        self.assertEqual((), plan.plan_server(server(description=''), change))


class TestPlanUnset(testtools.TestCase):
    def test_removes_only_what_is_there(self):
        change = changes.change_to_unset(
            property_keys=['a', 'gone'], description=True, tags=['x', 'gone']
        )
        current = server(
            metadata={'a': '1', 'keep': '2'},
            tags=['x', 'keep'],
            description='d',
        )
        self.assertEqual(
            (
                plan.UpdateDescription(None),
                plan.RemoveProperty('a'),
                plan.RemoveTag('x'),
            ),
            plan.plan_server(current, change),
        )

    def test_nothing_to_remove(self):
        change = changes.change_to_unset(
            property_keys=['a'], description=True, tags=['x']
        )
        for description in (None, ''):
            self.assertEqual(
                (), plan.plan_server(server(description=description), change)
            )


class TestDescribe(testtools.TestCase):
    def test_describe(self):
        calls = (
            plan.SetProperties({'b': '2', 'a': '1'}),
            plan.RemoveProperty('k'),
            plan.UpdateDescription('hi'),
            plan.UpdateDescription(None),
            plan.AddTag('t'),
            plan.RemoveTag('u'),
        )
        self.assertEqual(
            "set property a=1, b=2, unset property k, "
            "set description 'hi', unset description, add tag t, "
            "remove tag u",
            plan.describe(calls),
        )
