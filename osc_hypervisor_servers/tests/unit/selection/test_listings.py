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

import re
import threading

import testtools

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.selection import listings
from osc_hypervisor_servers.tests.unit import fakes

COMPUTE_1 = model.Hypervisor('id-1', 'compute-1', 'host-a')
COMPUTE_10 = model.Hypervisor('id-10', 'compute-10', 'host-a')


def on(hypervisor, **attrs):
    """A server on ``hypervisor``, as Nova shows it."""
    return fakes.nova_server(
        hypervisor.name, compute_host=hypervisor.host, **attrs
    )


class TestListServers(fakes.ComputeTestCase):
    def listed_ids(self, hypervisors, **kwargs):
        return [
            server.id
            for server in listings.list_servers(
                self.compute, hypervisors, self.retry, **kwargs
            )
        ]

    def test_novas_own_filter_names_at_the_session_version(self):
        listings.list_servers(
            self.compute, [COMPUTE_1], self.retry, status='ACTIVE'
        )
        self.compute.get.assert_called_once_with(
            '/servers/detail',
            params={
                'all_tenants': '1',
                'host': 'host-a',
                'node': r'^compute\-1$',
                'status': 'ACTIVE',
            },
            microversion='2.100',
        )

    def test_server_of_another_hypervisor_is_dropped(self):
        # "node" is a regex to Nova: compute-1 also matches compute-10.
        mine, other = self.nova.add(on(COMPUTE_1), on(COMPUTE_10))
        self.assertEqual([mine['id']], self.listed_ids([COMPUTE_1]))

    def test_filters_are_checked_again(self):
        active, _error, _elsewhere = self.nova.add(
            on(COMPUTE_1, project_id='p1'),
            on(COMPUTE_1, status='ERROR', project_id='p1'),
            on(COMPUTE_1, project_id='p2'),
        )
        # As Nova does for anyone but an admin.
        self.nova.ignored = {'status', 'project_id'}
        self.assertEqual(
            [active['id']],
            self.listed_ids([COMPUTE_1], status='ACTIVE', project_id='p1'),
        )

    def test_each_server_once_in_the_order_of_the_hypervisors(self):
        second, first = self.nova.add(on(COMPUTE_10), on(COMPUTE_1))
        self.assertEqual(
            [first['id'], second['id']],
            self.listed_ids([COMPUTE_1, COMPUTE_10, COMPUTE_1]),
        )

    def test_hypervisors_listed_side_by_side_in_order(self):
        hypervisors = [
            model.Hypervisor(f'id-{n}', f'compute-{n}', f'h{n}')
            for n in range(8)
        ]
        self.nova.add(*(on(hypervisor) for hypervisor in hypervisors))
        in_flight = []
        peak = []
        lock = threading.Lock()
        all_started = threading.Event()

        def get(url, params, microversion):
            with lock:
                in_flight.append(params['node'])
                peak.append(len(in_flight))
                if len(in_flight) == 4:
                    all_started.set()
            all_started.wait(5)
            with lock:
                in_flight.remove(params['node'])
            return self.nova.get(url, params, microversion)

        self.compute.get.side_effect = get
        listed = listings.list_servers(
            self.compute, hypervisors, self.retry, workers=4
        )
        self.assertEqual(4, max(peak))
        self.assertEqual(
            [h.name for h in hypervisors],
            [server.hypervisor_hostname for server in listed],
        )

    def test_hypervisor_without_service_has_no_servers(self):
        orphan = model.Hypervisor('id-x', 'compute-x', None)
        self.assertEqual([], self.listed_ids([orphan]))
        self.assertEqual([], self.nova.listings)

    def test_pages_are_followed(self):
        first, second = self.nova.add(
            on(COMPUTE_1, name='first'), on(COMPUTE_1, name='second')
        )
        self.nova.page_size = 1
        self.assertEqual(
            [first['id'], second['id']], self.listed_ids([COMPUTE_1])
        )
        self.assertEqual(
            [None, first['id']],
            [query.get('marker') for query in self.nova.listings],
        )

    def test_listing_retried_on_transient_fault(self):
        (server,) = self.nova.add(on(COMPUTE_1))
        self.compute.get.side_effect = [
            fakes.http_error(502),
            self.nova.get('/servers/detail', {'all_tenants': '1'}),
        ]
        self.assertEqual([server['id']], self.listed_ids([COMPUTE_1]))

    def test_one_listing_for_all(self):
        from osc_hypervisor_servers.selection import read_cost

        mine, other, neighbour = self.nova.add(
            on(COMPUTE_10),
            on(COMPUTE_1),
            on(model.Hypervisor('x', 'gpu-1', 'g')),
        )
        listed = listings.list_servers(
            self.compute,
            [COMPUTE_1, COMPUTE_10],
            self.retry,
            one_listing=read_cost.OneListing('compute-1'),
        )
        # In the order of the hypervisors, as a listing of each gives.
        self.assertEqual([other['id'], mine['id']], [s.id for s in listed])
        self.assertEqual(
            [{'all_tenants': '1', 'node': r'^compute\-1'}], self.nova.listings
        )


class TestNodeFilter(testtools.TestCase):
    def test_anchored_and_escaped(self):
        self.assertEqual(
            {'node': r'^rack\-1\.dc\_2$'}, listings.node_filter('rack-1.dc_2')
        )
        self.assertEqual(
            {'node': r'^rack\-1\.dc\_2'},
            listings.node_filter('rack-1.dc_2', whole=False),
        )
        self.assertEqual({}, listings.node_filter(''))
        self.assertEqual({}, listings.node_filter('kø'))
        self.assertEqual({}, listings.node_filter('a|b'))

    def test_a_name_with_regular_expression_characters_matches_itself(self):
        for name in ('rx(1)+[a]', 'n.*', 'a$b^c', 'x\\y{2}'):
            pattern = listings.node_filter(name)['node']
            self.assertIsNotNone(re.fullmatch(pattern, name), name)
            self.assertIsNone(re.search(pattern, name + 'x'), name)


class TestReadServer(fakes.ComputeTestCase):
    def test_as_it_is_now(self):
        (server,) = self.nova.add(on(COMPUTE_1, name='web'))
        state = listings.read_server(self.compute, server['id'], self.retry)
        self.assertEqual(model.ServerState.from_nova(server), state)
        self.compute.get.assert_called_once_with(
            f'/servers/{server["id"]}', params=None, microversion='2.100'
        )

    def test_gone(self):
        self.assertIsNone(
            listings.read_server(self.compute, 'nope', self.retry)
        )


class TestFindById(fakes.ComputeTestCase):
    def test_on_the_hypervisors_first_then_one_by_one(self):
        here, moved = self.nova.add(
            on(COMPUTE_1), on(model.Hypervisor('id-2', 'compute-2', 'b'))
        )
        found = listings.find_by_id(
            self.compute,
            [here['id'], moved['id'], 'deleted'],
            self.retry,
            workers=2,
            hypervisors=[COMPUTE_1],
        )
        self.assertEqual(
            {here['id']: 'compute-1', moved['id']: 'compute-2'},
            {
                server_id: server.hypervisor_hostname
                for server_id, server in found.items()
                if server is not None
            },
        )
        self.assertIsNone(found['deleted'])
        self.assertEqual(1, len(self.nova.listings))
