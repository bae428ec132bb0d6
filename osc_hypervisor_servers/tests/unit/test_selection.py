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


import json

import requests
import testtools

from osc_hypervisor_servers import hypervisors
from osc_hypervisor_servers import selection
from osc_hypervisor_servers import servers
from osc_hypervisor_servers.tests.unit import fakes


def statistics(running_vms, count=100):
    response = requests.Response()
    response.status_code = 200
    response.headers['Content-Type'] = 'application/json'
    response._content = json.dumps(
        {'hypervisor_statistics': {'count': count, 'running_vms': running_vms}}
    ).encode()
    return response


def hypervisor(number, running_vms):
    return hypervisors.Hypervisor(
        f'id-{number}', f'compute-{number}', f'host-{number}', running_vms
    )


class TestListingPlan(testtools.TestCase):
    def plan(self, found, in_cloud, everyone=None):
        return selection._listing_plan(
            found,
            everyone,
            hypervisors.CloudCounts(hypervisors=50, servers=in_cloud),
        )

    def test_one_listing_when_they_hold_most_servers(self):
        # 20 hypervisors with 3 servers each, 60 servers elsewhere: one
        # listing of 120 servers costs Nova less than 20 listings.
        wide = [hypervisor(n, 3) for n in range(20)]
        self.assertEqual(
            servers.Everywhere(node_prefix='compute-'), self.plan(wide, 120)
        )

    def test_a_listing_each_on_a_big_cloud(self):
        wide = [hypervisor(n, 30) for n in range(20)]
        self.assertIsNone(self.plan(wide, 10_000))

    def test_only_servers_under_the_prefix_count_when_all_are_known(self):
        wide = [hypervisor(n, 30) for n in range(20)]
        others = [
            hypervisors.Hypervisor(f'gpu-{n}', f'gpu-{n}', f'gpu-{n}', 500)
            for n in range(20)
        ]
        # 10,000 servers elsewhere, but none on a compute-* hypervisor.
        self.assertEqual(
            servers.Everywhere(node_prefix='compute-'),
            self.plan(wide, 10_600, everyone=wide + others),
        )

    def test_one_hypervisor(self):
        self.assertIsNone(self.plan([hypervisor(1, 3)], 3))

    def test_unknown_counts(self):
        self.assertIsNone(
            self.plan([hypervisor(1, 3), hypervisor(2, None)], 6)
        )
        self.assertIsNone(
            selection._listing_plan(
                [hypervisor(1, 3), hypervisor(2, 3)], None, None
            )
        )


class TestNodeFilter(testtools.TestCase):
    def test_anchored_and_escaped(self):
        self.assertEqual(
            {'node': r'^rack\-1\.dc\_2'},
            servers.Everywhere('rack-1.dc_2').node_filter(),
        )
        self.assertEqual({}, servers.Everywhere('').node_filter())
        self.assertEqual({}, servers.Everywhere('kø').node_filter())


class TestCloudCounts(fakes.ComputeTestCase):
    def test_statistics_at_the_lookup_version(self):
        self.compute.get.return_value = statistics(120, count=21)
        self.assertEqual(
            hypervisors.CloudCounts(hypervisors=21, servers=120),
            hypervisors.cloud_counts(self.compute, self.retry),
        )
        self.compute.get.assert_called_once_with(
            '/os-hypervisors/statistics', microversion='2.53'
        )

    def test_no_statistics(self):
        self.compute.get.return_value = statistics(6)
        self.compute.get.return_value.status_code = 404
        self.assertIsNone(hypervisors.cloud_counts(self.compute, self.retry))


class TestSelect(fakes.ComputeTestCase):
    def test_everywhere_gives_the_same_servers_in_the_same_order(self):
        names = [f'compute-{n}' for n in range(4)]
        found = {
            name: fakes.make_hypervisor(name, hypervisor_id=f'id-{name}')
            for name in names
        }
        for each in found.values():
            each.running_vms = 2
        self.compute.hypervisors.side_effect = lambda **query: [
            found[query['hypervisor_hostname_pattern']]
        ]
        listed = {
            name: [fakes.make_server(name), fakes.make_server(name)]
            for name in names
        }
        elsewhere = fakes.make_server('compute-9')
        everything = [elsewhere] + [
            server for name in reversed(names) for server in listed[name]
        ]
        wanted = selection.Selection(hypervisors=tuple(names))

        self.compute.get.return_value = statistics(100, count=100)
        self.compute.servers.side_effect = lambda **query: listed[
            query['node']
        ]
        one_each = selection.select(self.compute, wanted, self.retry, 4)
        self.assertEqual(4, self.compute.servers.call_count)

        self.compute.servers.reset_mock()
        self.compute.get.return_value = statistics(9, count=100)
        self.compute.servers.side_effect = None
        self.compute.servers.return_value = everything
        at_once = selection.select(self.compute, wanted, self.retry, 4)
        # One listing, of the servers of nodes named compute-*.
        self.compute.servers.assert_called_once_with(
            details=True, all_projects=True, node=r'^compute\-'
        )
        self.assertEqual(
            [s.id for s in one_each.servers], [s.id for s in at_once.servers]
        )
        self.assertNotIn(elsewhere.id, [s.id for s in at_once.servers])
