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

import threading

import fixtures
from openstack.compute.v2 import hypervisor as sdk_hypervisor

from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.selection import lookup
from osc_hypervisor_servers.selection import read_cost
from osc_hypervisor_servers.tests.unit import fakes

HYPERVISOR_1 = fakes.make_hypervisor(
    'compute-1', hypervisor_id='1d0a1e2c-0000-4000-8000-000000000001'
)
HYPERVISOR_10 = fakes.make_hypervisor('compute-10')
HYPERVISOR_2 = fakes.make_hypervisor('compute-2')


def statistics(hypervisors, servers=30):
    return fakes.json_response(
        {
            'hypervisor_statistics': {
                'count': hypervisors,
                'running_vms': servers,
            }
        }
    )


class TestResolve(fakes.ComputeTestCase):
    def setUp(self):
        super().setUp()
        self.fetch = self.useFixture(
            fixtures.MockPatchObject(
                sdk_hypervisor.Hypervisor, 'fetch', autospec=True
            )
        ).mock

    def resolve(self, references=(), matching=()):
        return lookup.resolve(self.compute, references, matching, self.retry)

    def test_exact_name_never_substring(self):
        # Nova's pattern is LIKE '%compute-1%': it answers with both.
        self.compute.hypervisors.return_value = [HYPERVISOR_1, HYPERVISOR_10]
        found = self.resolve(['compute-1'])
        self.assertEqual(['compute-1'], [h.name for h in found])
        self.assertEqual('compute-1', found[0].host)
        # At 2.53: from 2.88 the details cost Nova an RPC per hypervisor.
        self.compute.hypervisors.assert_called_once_with(
            details=True,
            hypervisor_hostname_pattern='compute-1',
            microversion='2.53',
        )

    def test_a_name_nova_refuses_as_a_pattern_is_found_in_the_listing(self):
        # Node names are the driver's; Nova's pattern takes
        # [a-zA-Z0-9-._] only (400 otherwise).
        odd = fakes.make_hypervisor('rx(1)+[a]', host='rx-1')
        self.compute.hypervisors.side_effect = fakes.hypervisor_listing(
            HYPERVISOR_1, odd
        )
        (found,) = self.resolve(['rx(1)+[a]'])
        self.assertEqual(('rx(1)+[a]', 'rx-1'), (found.name, found.host))
        self.compute.hypervisors.assert_called_once_with(
            details=True, microversion='2.53'
        )

    def test_longer_name(self):
        self.compute.hypervisors.return_value = [HYPERVISOR_10]
        found = self.resolve(['compute-10'])
        self.assertEqual(['compute-10'], [h.name for h in found])

    def test_unknown_name(self):
        self.compute.hypervisors.side_effect = fakes.http_error(404)
        error = self.assertRaises(errors.Refused, self.resolve, ['compute-9'])
        self.assertIn("'compute-9'", str(error))

    def test_only_substring_matches_is_unknown(self):
        self.compute.hypervisors.return_value = [HYPERVISOR_10]
        self.assertRaises(errors.Refused, self.resolve, ['compute-1'])

    def test_duplicate_names_list_ids(self):
        twin = fakes.make_hypervisor('compute-1', hypervisor_id='twin-id')
        self.compute.hypervisors.return_value = [HYPERVISOR_1, twin]
        error = self.assertRaises(errors.Refused, self.resolve, ['compute-1'])
        self.assertIn(HYPERVISOR_1.id, str(error))
        self.assertIn('twin-id', str(error))

    def test_by_id(self):
        self.fetch.return_value = HYPERVISOR_1
        found = self.resolve([HYPERVISOR_1.id])
        self.assertEqual([HYPERVISOR_1.id], [h.id for h in found])
        self.compute.hypervisors.assert_not_called()
        (call,) = self.fetch.call_args_list
        self.assertEqual(HYPERVISOR_1.id, call.args[0].id)
        self.assertEqual('2.53', call.kwargs['microversion'])

    def test_uuid_like_name(self):
        # Ironic names nodes by UUID: an unknown ID is tried as a name.
        named = fakes.make_hypervisor('1d0a1e2c-0000-4000-8000-00000000abcd')
        self.fetch.side_effect = fakes.http_error(404)
        self.compute.hypervisors.return_value = [named]
        self.assertEqual(
            [named.id], [h.id for h in self.resolve([named.name])]
        )

    def test_each_hypervisor_once(self):
        self.compute.hypervisors.return_value = [HYPERVISOR_1, HYPERVISOR_10]
        self.fetch.return_value = HYPERVISOR_1
        found = self.resolve(['compute-1', HYPERVISOR_1.id], ['compute-1'])
        self.assertEqual(['compute-1', 'compute-10'], [h.name for h in found])

    def test_looked_up_side_by_side_in_order(self):
        names = [f'compute-{n}' for n in range(6)]
        started = []
        lock = threading.Lock()
        all_started = threading.Event()

        def look_up(details, hypervisor_hostname_pattern, microversion):
            with lock:
                started.append(hypervisor_hostname_pattern)
                if len(started) == 3:
                    all_started.set()
            # Three lookups are in flight before any answers.
            self.assertTrue(all_started.wait(5))
            return [fakes.make_hypervisor(hypervisor_hostname_pattern)]

        self.compute.hypervisors.side_effect = look_up
        found = lookup.resolve(
            self.compute, names + ['compute-0'], (), self.retry, workers=3
        )
        self.assertEqual(names, [h.name for h in found])
        self.assertEqual(6, self.compute.hypervisors.call_count)

    def test_one_listing_when_the_references_are_much_of_the_cloud(self):
        everyone = [HYPERVISOR_1, HYPERVISOR_10, HYPERVISOR_2]
        self.compute.hypervisors.return_value = everyone
        self.nova.answers['/os-hypervisors/statistics'] = statistics(6)
        listed = read_cost.plan_reads(self.compute, self.retry, 3).everyone
        found = lookup.resolve(
            self.compute,
            ['compute-2', HYPERVISOR_1.id],
            ['-1'],
            self.retry,
            workers=4,
            everyone=listed,
        )
        self.assertEqual(
            ['compute-2', 'compute-1', 'compute-10'], [h.name for h in found]
        )
        self.compute.hypervisors.assert_called_once_with(
            details=True, microversion='2.53'
        )
        self.fetch.assert_not_called()
        # The same rules: an unknown name, a name two hypervisors share.
        for reference, words in [
            ('compute-9', "No hypervisor with ID or hostname 'compute-9'"),
            ('compute', "No hypervisor with ID or hostname 'compute'"),
        ]:
            error = self.assertRaises(
                errors.Refused,
                lookup.resolve,
                self.compute,
                [reference, 'compute-1'],
                (),
                self.retry,
                everyone=listed,
            )
            self.assertIn(words, str(error))

    def test_lookups_when_the_cloud_is_large(self):
        self.nova.answers['/os-hypervisors/statistics'] = statistics(1000)
        self.assertIsNone(
            read_cost.plan_reads(self.compute, self.retry, 2).everyone
        )
        # Without statistics (removed at 2.88), each is looked up.
        del self.nova.answers['/os-hypervisors/statistics']
        self.assertIsNone(
            read_cost.plan_reads(self.compute, self.retry, 9).everyone
        )
        self.compute.hypervisors.assert_not_called()

    def test_first_error_in_order_is_raised(self):
        def look_up(details, hypervisor_hostname_pattern, microversion):
            if hypervisor_hostname_pattern != 'compute-1':
                raise fakes.http_error(404)
            return [HYPERVISOR_1]

        self.compute.hypervisors.side_effect = look_up
        error = self.assertRaises(
            errors.Refused,
            lookup.resolve,
            self.compute,
            ['compute-1', 'nope-a', 'nope-b'],
            (),
            self.retry,
            workers=3,
        )
        self.assertIn("'nope-a'", str(error))

    def test_matching_checks_substring_on_client(self):
        # "_" is a wildcard to Nova's LIKE; compute-2 has no "e_" in it.
        self.compute.hypervisors.return_value = [HYPERVISOR_2]
        self.assertRaises(errors.Refused, self.resolve, (), ['e_'])

    def test_not_admin(self):
        self.compute.hypervisors.side_effect = fakes.http_error(403)
        error = self.assertRaises(errors.Refused, self.resolve, ['compute-1'])
        self.assertIn('admin', str(error))
        self.assertEqual([], self.nova.listings)

    def test_transient_fault_is_retried(self):
        self.compute.hypervisors.side_effect = [
            fakes.http_error(503),
            [HYPERVISOR_1],
        ]
        self.assertEqual(
            ['compute-1'], [h.name for h in self.resolve(['compute-1'])]
        )
