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

"""Nova's rules, and URL encoding. The checks themselves are tested
through what uses them: marks/test_change_request and journal/test_schema.
"""

import testtools

from osc_hypervisor_servers.core import rules


class TestUrlSegment(testtools.TestCase):
    def test_characters_with_meaning_in_urls_are_encoded(self):
        self.assertEqual('a%3Fb%23c%25d', rules.url_segment('a?b#c%d'))
        self.assertEqual('a%20b', rules.url_segment('a b'))
        self.assertEqual('caf%C3%A9', rules.url_segment('café'))
        self.assertEqual('plain-tag_1.x', rules.url_segment('plain-tag_1.x'))
        self.assertEqual('a%2Fb', rules.url_segment('a/b'))


class TestProblems(testtools.TestCase):
    def test_a_problem_names_the_value_and_the_rule(self):
        self.assertEqual(
            "Invalid tag 'a,b': a tag cannot contain ','",
            rules.tag_problem('a,b'),
        )
        self.assertIsNone(rules.tag_problem('fine'))
        self.assertIsNone(rules.description_problem('fine'))
        self.assertIsNone(rules.property_key_problem('fine'))
        self.assertIsNone(rules.property_value_problem('k', 'fine'))
