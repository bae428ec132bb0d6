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

from osc_hypervisor_servers.selection import selector
from osc_hypervisor_servers.tests.unit import fakes


def statistics(running_vms, count=100):
    return fakes.json_response(
        {'hypervisor_statistics': {'count': count, 'running_vms': running_vms}}
    )


class TestSelect(fakes.ComputeTestCase):
    def test_one_listing_gives_the_same_servers_in_the_same_order(self):
        names = [f'compute-{n}' for n in range(4)]
        found = {
            name: fakes.make_hypervisor(
                name, hypervisor_id=f'id-{name}', running_vms=2
            )
            for name in names
        }
        self.compute.hypervisors.side_effect = lambda **query: [
            found[query['hypervisor_hostname_pattern']]
        ]
        # Booted in another order than the names are given.
        for name in reversed(names):
            self.nova.add(fakes.nova_server(name), fakes.nova_server(name))
        (elsewhere,) = self.nova.add(fakes.nova_server('gpu-9'))
        wanted = selector.Selection(hypervisors=tuple(names))

        # A big cloud: a listing per hypervisor.
        self.nova.answers['/os-hypervisors/statistics'] = statistics(100)
        one_each = selector.select(self.compute, wanted, self.retry, 4)
        self.assertEqual(4, len(self.nova.listings))

        # The servers are most of the cloud's: one listing.
        self.nova.listings.clear()
        self.nova.answers['/os-hypervisors/statistics'] = statistics(9)
        at_once = selector.select(self.compute, wanted, self.retry, 4)
        self.assertEqual(
            [{'all_tenants': '1', 'node': r'^compute\-'}], self.nova.listings
        )
        self.assertEqual(
            [s.id for s in one_each.servers], [s.id for s in at_once.servers]
        )
        self.assertEqual(
            names,
            [server.hypervisor_hostname for server in at_once.servers][::2],
        )
        self.assertNotIn(elsewhere['id'], [s.id for s in at_once.servers])
