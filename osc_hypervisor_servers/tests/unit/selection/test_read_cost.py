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

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.selection import read_cost
from osc_hypervisor_servers.tests.unit import fakes


def statistics(running_vms, count=100):
    return fakes.json_response(
        {'hypervisor_statistics': {'count': count, 'running_vms': running_vms}}
    )


def hypervisor(number, running_vms):
    return model.Hypervisor(
        f'id-{number}', f'compute-{number}', f'host-{number}', running_vms
    )


class TestOneListing(testtools.TestCase):
    def plan(self, found, in_cloud, everyone=None):
        counts = read_cost.CloudCounts(hypervisors=50, servers=in_cloud)
        return read_cost.ReadPlan(counts, everyone).one_listing(found)

    def test_when_they_hold_most_servers(self):
        # 20 hypervisors with 3 servers each, 60 servers elsewhere: one
        # listing of 120 servers costs Nova less than 20 listings.
        wide = [hypervisor(n, 3) for n in range(20)]
        self.assertEqual(
            read_cost.OneListing(node_prefix='compute-'), self.plan(wide, 120)
        )

    def test_a_listing_each_on_a_big_cloud(self):
        wide = [hypervisor(n, 30) for n in range(20)]
        self.assertIsNone(self.plan(wide, 10_000))

    def test_only_servers_under_the_prefix_count_when_all_are_known(self):
        wide = [hypervisor(n, 30) for n in range(20)]
        others = [
            model.Hypervisor(f'gpu-{n}', f'gpu-{n}', f'gpu-{n}', 500)
            for n in range(20)
        ]
        # 10,000 servers elsewhere, but none on a compute-* hypervisor.
        self.assertEqual(
            read_cost.OneListing(node_prefix='compute-'),
            self.plan(wide, 10_600, everyone=wide + others),
        )

    def test_one_hypervisor(self):
        self.assertIsNone(self.plan([hypervisor(1, 3)], 3))

    def test_unknown_counts(self):
        self.assertIsNone(
            self.plan([hypervisor(1, 3), hypervisor(2, None)], 6)
        )
        self.assertIsNone(
            read_cost.ReadPlan().one_listing(
                [hypervisor(1, 3), hypervisor(2, 3)]
            )
        )


class TestPlanReads(fakes.ComputeTestCase):
    def test_statistics_at_the_lookup_version(self):
        self.nova.answers['/os-hypervisors/statistics'] = statistics(
            120, count=21
        )
        self.assertEqual(
            read_cost.CloudCounts(hypervisors=21, servers=120),
            read_cost.cloud_counts(self.compute, self.retry),
        )
        self.compute.get.assert_called_once_with(
            '/os-hypervisors/statistics', params=None, microversion='2.53'
        )

    def test_no_statistics(self):
        self.assertIsNone(read_cost.cloud_counts(self.compute, self.retry))

    def test_one_reference_costs_no_statistics(self):
        self.assertEqual(
            read_cost.ReadPlan(),
            read_cost.plan_reads(self.compute, self.retry, 1),
        )
        self.compute.get.assert_not_called()
