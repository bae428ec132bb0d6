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

import dataclasses

from osc_hypervisor_servers.core import model
from osc_hypervisor_servers.moves import kinds
from osc_hypervisor_servers.moves import packing
from osc_hypervisor_servers.moves import planning
from osc_hypervisor_servers.moves import preflight
from osc_hypervisor_servers.runner import errors
from osc_hypervisor_servers.runner import invocation
from osc_hypervisor_servers.tests.unit import fakes

SOURCE = fakes.make_hypervisor('compute-7')
SPARE = fakes.make_hypervisor('compute-3')
DOWN = fakes.make_hypervisor('compute-4', state='down')
GROUP_ID = '2c1a9f3e-5b7d-4e8f-9a0b-1c2d3e4f5a6b'


def up_and_not_drained(node):
    return node.state == 'up' and node.host != 'compute-7'


class TestGather(fakes.ComputeTestCase):
    def setUp(self):
        super().setUp()
        self.placement = fakes.FakePlacement()
        for node in (SOURCE, SPARE, DOWN):
            self.placement.add_node(node)
        self.compute.hypervisors.side_effect = fakes.hypervisor_listing(
            SOURCE, SPARE, DOWN
        )
        self.context = invocation.RunContext(
            self.compute,
            self.retry,
            connect_placement=lambda: self.placement,  # type: ignore[arg-type,return-value]
        )

    def plan(self, **attrs):
        (server,) = self.nova.add(fakes.nova_server('compute-7', **attrs))
        return planning.MovePlan(
            model.ServerState.from_nova(server), kinds.LIVE
        )

    def test_needs_hosts_and_shapes(self):
        first, second = self.plan(), self.plan()
        gpu = self.plan()
        self.placement.allocations[gpu.server.id] = {
            **fakes.SMALL,
            'CUSTOM_GPU': 1,
        }
        facts = preflight.gather(
            self.context, [first, second, gpu], up_and_not_drained, 2
        )
        self.assertEqual(
            [fakes.SMALL, fakes.SMALL, {**fakes.SMALL, 'CUSTOM_GPU': 1}],
            [dict(need.resources) for need in facts.needs],
        )
        # Neither the drained host nor the one that is down.
        self.assertEqual(['compute-3'], [host.name for host in facts.hosts])
        self.assertEqual(
            {
                frozenset(fakes.SMALL.items()): frozenset({'compute-3'}),
                frozenset(
                    {**fakes.SMALL, 'CUSTOM_GPU': 1}.items()
                ): frozenset(),
            },
            facts.shapes,
        )
        candidates = [
            query
            for url, query in self.placement.requests
            if url == '/allocation_candidates'
        ]
        self.assertEqual(
            [f'!{preflight.DISABLED_TRAIT}'] * 3,
            [query['required'] for query in candidates],
        )

    def test_the_census_goes_first_alone(self):
        # The first request discovers Placement's version; the requests
        # side by side that follow it then do not each discover it again.
        plans = [self.plan() for _ in range(4)]
        preflight.gather(self.context, plans, up_and_not_drained, 4)
        first, *others = self.placement.requests
        self.assertEqual(
            ('/allocation_candidates', 'VCPU:1'),
            (first[0], first[1]['resources']),
        )
        self.assertEqual(
            sorted(f'/allocations/{plan.server.id}' for plan in plans),
            sorted(url for url, query in others if url != first[0]),
        )

    def test_groups_with_the_hosts_of_their_members(self):
        member = self.plan()
        (elsewhere,) = self.nova.add(fakes.nova_server('compute-3'))
        self.nova.answers['/os-server-groups'] = fakes.json_response(
            {
                'server_groups': [
                    {
                        'id': GROUP_ID,
                        'name': 'db-ha',
                        'policy': 'anti-affinity',
                        'rules': {'max_server_per_host': 2},
                        'members': [member.server.id, elsewhere['id']],
                    },
                    {
                        'id': 'other',
                        'policy': 'affinity',
                        'members': ['not-ours'],
                    },
                ]
            }
        )
        (need,) = preflight.gather(
            self.context, [member], up_and_not_drained, 2
        ).needs
        self.assertEqual(
            packing.Group(
                GROUP_ID,
                'db-ha',
                'anti-affinity',
                max_per_host=2,
                members_on={'compute-7': 1, 'compute-3': 1},
            ),
            need.group,
        )
        self.compute.get.assert_any_call(
            '/os-server-groups',
            params={'all_projects': 'True'},
            microversion='2.64',
        )

    def test_a_pinned_zone_reads_the_zones(self):
        pinned = self.plan()
        pinned = planning.MovePlan(
            dataclasses.replace(pinned.server, pinned_zone='az1'),
            kinds.LIVE,
        )
        self.nova.answers['/os-availability-zone/detail'] = (
            fakes.json_response(
                {
                    'availabilityZoneInfo': [
                        {'zoneName': 'az1', 'hosts': {'compute-3': {}}}
                    ]
                }
            )
        )
        facts = preflight.gather(self.context, [pinned], up_and_not_drained, 2)
        self.assertEqual('az1', facts.needs[0].zone)
        self.assertEqual(['az1'], [host.zone for host in facts.hosts])

    def test_a_cloud_without_placement_in_its_catalog(self):
        context = invocation.RunContext(self.compute, self.retry)
        error = self.assertRaises(
            errors.Refused,
            preflight.gather,
            context,
            [self.plan()],
            up_and_not_drained,
            1,
        )
        self.assertIn('give --skip-preflight', str(error))

    def test_every_read_is_retried(self):
        pinned = self.plan()
        pinned = planning.MovePlan(
            dataclasses.replace(pinned.server, pinned_zone='az1'),
            kinds.LIVE,
        )
        unavailable = fakes.json_response({}, 503)
        for path, answer in (
            ('/os-server-groups', {'server_groups': []}),
            (
                '/os-availability-zone/detail',
                {
                    'availabilityZoneInfo': [
                        {'zoneName': 'az1', 'hosts': {'compute-3': {}}}
                    ]
                },
            ),
        ):
            self.nova.answers[path] = [
                unavailable,
                fakes.json_response(answer),
            ]
        self.placement.unavailable = 1
        facts = preflight.gather(self.context, [pinned], up_and_not_drained, 2)
        self.assertEqual(['compute-3'], [host.name for host in facts.hosts])
        self.assertEqual(
            2,
            [call.args[0] for call in self.compute.get.mock_calls].count(
                '/os-server-groups'
            ),
        )
