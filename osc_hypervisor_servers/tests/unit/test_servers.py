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

from osc_hypervisor_servers import hypervisors
from osc_hypervisor_servers import servers
from osc_hypervisor_servers.tests.unit import fakes

COMPUTE_1 = hypervisors.Hypervisor('id-1', 'compute-1', 'host-a')
COMPUTE_10 = hypervisors.Hypervisor('id-10', 'compute-10', 'host-a')


class TestListServers(fakes.ComputeTestCase):
    def test_server_of_another_hypervisor_is_dropped(self):
        # "node" is a regex to Nova: compute-1 also matches compute-10.
        mine = fakes.make_server('compute-1')
        other = fakes.make_server('compute-10')
        self.compute.servers.return_value = [mine, other]
        listed = servers.list_servers(self.compute, [COMPUTE_1], self.retry)
        self.assertEqual([mine.id], [server.id for server in listed])

    def test_filters_are_checked_again(self):
        active = fakes.make_server(status='ACTIVE', project_id='p1')
        error = fakes.make_server(status='ERROR', project_id='p1')
        elsewhere = fakes.make_server(status='ACTIVE', project_id='p2')
        self.compute.servers.return_value = [active, error, elsewhere]
        listed = servers.list_servers(
            self.compute,
            [COMPUTE_1],
            self.retry,
            status='ACTIVE',
            project_id='p1',
        )
        self.assertEqual([active.id], [server.id for server in listed])

    def test_each_server_once(self):
        first = fakes.make_server('compute-1')
        second = fakes.make_server('compute-10')
        self.compute.servers.side_effect = [[first, second], [second]]
        listed = servers.list_servers(
            self.compute, [COMPUTE_1, COMPUTE_10], self.retry
        )
        self.assertEqual(
            [first.id, second.id], [server.id for server in listed]
        )

    def test_snapshot(self):
        sdk = fakes.make_server(
            metadata={'a': '1'}, tags=['t'], description='d', name='web'
        )
        self.compute.servers.return_value = [sdk]
        (state,) = servers.list_servers(self.compute, [COMPUTE_1], self.retry)
        self.assertEqual(
            servers.ServerState(
                id=sdk.id,
                name='web',
                project_id='project-a',
                hypervisor_hostname='compute-1',
                compute_host='compute-1',
                status='ACTIVE',
                task_state=None,
                metadata={'a': '1'},
                tags=frozenset({'t'}),
                description='d',
            ),
            state,
        )

    def test_hypervisors_listed_side_by_side_in_order(self):
        listed_hypervisors = [
            hypervisors.Hypervisor(f'id-{n}', f'compute-{n}', f'h{n}')
            for n in range(8)
        ]
        in_flight = []
        peak = []
        lock = threading.Lock()
        all_started = threading.Event()

        def listing(**query):
            with lock:
                in_flight.append(query['node'])
                peak.append(len(in_flight))
                if len(in_flight) == 4:
                    all_started.set()
            all_started.wait(5)
            with lock:
                in_flight.remove(query['node'])
            return [fakes.make_server(query['node'])]

        self.compute.servers.side_effect = listing
        listed = servers.list_servers(
            self.compute, listed_hypervisors, self.retry, workers=4
        )
        self.assertEqual(4, max(peak))
        self.assertEqual(
            [h.name for h in listed_hypervisors],
            [server.hypervisor_hostname for server in listed],
        )

    def test_hypervisor_without_service_has_no_servers(self):
        orphan = hypervisors.Hypervisor('id-x', 'compute-x', None)
        self.assertEqual(
            [], servers.list_servers(self.compute, [orphan], self.retry)
        )
        self.compute.servers.assert_not_called()

    def test_novas_own_filter_names_at_the_session_version(self):
        servers.list_servers(
            self.compute, [COMPUTE_1], self.retry, status='ACTIVE'
        )
        self.compute.get.assert_called_once_with(
            '/servers/detail',
            params={
                'all_tenants': '1',
                'host': 'host-a',
                'node': 'compute-1',
                'status': 'ACTIVE',
            },
            microversion='2.100',
        )

    def test_pages_are_followed(self):
        first = fakes.make_server(name='first')
        second = fakes.make_server(name='second')

        def page(url, params, microversion):
            if 'marker' not in params:
                return fakes.json_response(
                    {
                        'servers': [
                            first.to_dict(computed=False, original_names=True)
                        ],
                        'servers_links': [{'rel': 'next', 'href': 'x'}],
                    }
                )
            self.assertEqual(first.id, params['marker'])
            return fakes.json_response(
                {
                    'servers': [
                        second.to_dict(computed=False, original_names=True)
                    ]
                }
            )

        self.compute.get.side_effect = page
        listed = servers.list_servers(self.compute, [COMPUTE_1], self.retry)
        self.assertEqual(['first', 'second'], [s.name for s in listed])

    def test_listing_retried_on_transient_fault(self):
        server = fakes.make_server()
        self.compute.servers.side_effect = [fakes.http_error(502), [server]]
        listed = servers.list_servers(self.compute, [COMPUTE_1], self.retry)
        self.assertEqual([server.id], [s.id for s in listed])
