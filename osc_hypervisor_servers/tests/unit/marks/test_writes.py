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

from osc_hypervisor_servers.core import attributes
from osc_hypervisor_servers.marks import writes
from osc_hypervisor_servers.tests.unit import fakes

server = fakes.server_state
DESCRIPTION = attributes.description()
change = attributes.AttributeChange


class TestWrites(testtools.TestCase):
    def test_describe(self):
        planned = writes.writes_for(
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
            writes.describe(planned),
        )

    def test_is_done(self):
        (set_properties,) = writes.writes_for(
            [
                change(attributes.property_('a'), None, '1'),
                change(attributes.property_('b'), None, '2'),
            ]
        )
        self.assertTrue(
            set_properties.is_done(server(metadata={'a': '1', 'b': '2'}))
        )
        self.assertFalse(set_properties.is_done(server(metadata={'a': '1'})))
        (remove_tag,) = writes.writes_for(
            [change(attributes.tag('t'), True, False)]
        )
        self.assertTrue(remove_tag.is_done(server(tags=['other'])))
        self.assertFalse(remove_tag.is_done(server(tags=['t'])))
        (unset_description,) = writes.writes_for(
            [change(DESCRIPTION, 'd', None)]
        )
        self.assertTrue(unset_description.is_done(server()))
        self.assertFalse(unset_description.is_done(server(description='')))
