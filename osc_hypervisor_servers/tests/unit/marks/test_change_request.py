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
from osc_hypervisor_servers.marks import change_request
from osc_hypervisor_servers.runner import errors


class TestToSet(testtools.TestCase):
    def assertRefused(self, expected_words, **kwargs):
        error = self.assertRaises(
            errors.Refused, change_request.to_set, **kwargs
        )
        for word in expected_words:
            self.assertIn(word, str(error))
        self.assertNotIn('\n', str(error))

    def test_all_three(self):
        change = change_request.to_set(
            properties={'maintenance': 'yes'},
            description='draining',
            tags=['maint', 'maint', 'drain'],
        )
        self.assertEqual(
            (
                (attributes.description(), 'draining'),
                (attributes.property_('maintenance'), 'yes'),
                (attributes.tag('maint'), True),
                (attributes.tag('drain'), True),
            ),
            change.wanted,
        )
        self.assertEqual(
            ['2.19', '2.26'],
            [version for version, _ in change.required_microversions()],
        )

    def test_properties_only_needs_no_microversion(self):
        change = change_request.to_set(properties={'a': 'b'})
        self.assertEqual([], change.required_microversions())

    def test_nothing_to_set(self):
        self.assertRefused(['--property', '--description', '--tag'])

    def test_key_rules(self):
        for key in ['a/b', 'a=b', 'ké', 'a,b', 'a' * 256, 'ends\n']:
            self.assertRefused([repr(key)[:20]], properties={key: 'v'})

    def test_allowed_keys(self):
        keys = ['a', 'A-b_c:d.e f', 'k' * 255, '..', 'server']
        change = change_request.to_set(properties=dict.fromkeys(keys, 'v'))
        self.assertEqual(
            keys, [attribute.name for attribute, _value in change.wanted]
        )

    def test_value_length(self):
        change_request.to_set(properties={'k': 'v' * 255})
        self.assertRefused(
            ['256 characters', '255'], properties={'k': 'v' * 256}
        )

    def test_tag_length(self):
        change_request.to_set(tags=['t' * 60])
        self.assertRefused(['61', '1 to 60'], tags=['t' * 61])
        self.assertRefused(['1 to 60'], tags=[''])

    def test_tag_characters(self):
        self.assertRefused(["'a,b'", "','"], tags=['a,b'])
        self.assertRefused(["'a/b'", "'/'"], tags=['a/b'])

    def test_tag_outside_ascii(self):
        # Nova would store "ünï" as "Ã¼nÃ¯" (see core.rules.tag_problem).
        for tag in ['ünï', 'naïve', 'tag\u00a0space', '\U0001f527']:
            self.assertRefused([repr(tag), 'ASCII'], tags=[tag])
        change_request.to_set(tags=['plain ascii ~!@$&*()'])

    def test_tag_dot_segments(self):
        for tag in ['.', '..']:
            self.assertRefused(['URL path'], tags=[tag])
        change_request.to_set(tags=['...', 'a.b'])

    def test_description_rules(self):
        change_request.to_set(description='')
        change_request.to_set(description='Zürich rack 4 – maint ✓')
        change_request.to_set(description='d' * 255)
        self.assertRefused(['256 characters'], description='d' * 256)
        self.assertRefused(['U+000A'], description='two\nlines')
        self.assertRefused(['U+0009'], description='tab\there')
        self.assertRefused(['U+1F527'], description='emoji \U0001f527')
        self.assertRefused(['U+2028'], description='line\u2028sep')


class TestToUnset(testtools.TestCase):
    def test_unset(self):
        change = change_request.to_unset(
            property_keys=['a', 'a', 'b'], description=True, tags=['t', 't']
        )
        self.assertEqual(
            (
                (attributes.description(), None),
                (attributes.property_('a'), None),
                (attributes.property_('b'), None),
                (attributes.tag('t'), False),
            ),
            change.wanted,
        )

    def test_nothing_to_unset(self):
        self.assertRaises(errors.Refused, change_request.to_unset)

    def test_bad_key_and_tag(self):
        for kwargs in [
            {'property_keys': ['a/b']},
            {'property_keys': ['..']},
            {'tags': ['a,b']},
            {'tags': ['t' * 61]},
            {'tags': ['ünï']},
        ]:
            self.assertRaises(
                errors.Refused, change_request.to_unset, **kwargs
            )
