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

"""Keystone, the catalog and Placement, as an operator's client sees them.

The admin's set, migrate and restore with a password are in test_drain
(they move servers).
"""

import json

import openstack

from osc_hypervisor_servers.tests import sandbox as nova_sandbox
from osc_hypervisor_servers.tests.functional import base


def connect(sandbox, user=nova_sandbox.ADMIN):
    """An openstacksdk connection from the sandbox's clouds.yaml, as a
    client that finds its services in the catalog.
    """
    config = openstack.config.OpenStackConfig(
        config_files=[sandbox.clouds_yaml]
    )
    return openstack.connection.Connection(
        config=config.get_one(cloud=nova_sandbox.CLOUDS[user])
    )


class TestIdentity(base.FunctionalTestCase):
    def test_catalog_has_identity_compute_and_placement(self):
        exit_code, stdout, stderr = self.openstack(
            'catalog', 'list', '-f', 'json'
        )
        self.assertEqual(0, exit_code, stderr)
        public = {
            row['Type']: [
                endpoint['url']
                for endpoint in row['Endpoints']
                if endpoint['interface'] == 'public'
            ]
            for row in json.loads(stdout)
        }
        self.assertEqual(
            {
                'identity': [self.sandbox.identity_url],
                'compute': [self.sandbox.endpoint],
                'placement': [self.sandbox.placement_url],
            },
            public,
        )
        for (url,) in public.values():
            self.assertTrue(url.startswith('http://127.0.0.1:'), url)

    def test_each_user_gets_a_token_for_its_password(self):
        self.sandbox.reset_stats()
        for user, project in (
            (nova_sandbox.ADMIN, 'admin'),
            (nova_sandbox.MEMBER, 'project-1'),
            (nova_sandbox.READER, 'project-1'),
        ):
            exit_code, stdout, stderr = self.openstack(
                'token', 'issue', '-f', 'json', user=user
            )
            self.assertEqual(0, exit_code, stderr)
            token = json.loads(stdout)
            exit_code, stdout, stderr = self.openstack(
                'project', 'show', token['project_id'], '-f', 'json'
            )
            self.assertEqual(0, exit_code, stderr)
            self.assertEqual(project, json.loads(stdout)['name'])
            if project == 'project-1':
                self.assertEqual(self.sandbox.projects[0], token['project_id'])
        # Six password checks (one per command); no write reached nova.
        self.assertEqual(
            6, self.sandbox.stats('identity')['by_method']['POST']
        )
        self.assertEqual(0, self.writes())

    def test_member_and_reader_get_a_clear_error_and_nothing_changes(self):
        before = self.all_servers()
        for user in (nova_sandbox.MEMBER, nova_sandbox.READER):
            for command in (
                ['set', 'compute-1', '--tag', self.mark],
                ['migrate', 'compute-1'],
            ):
                self.sandbox.reset_stats()
                exit_code, stdout, stderr = self.openstack(
                    'hypervisor', 'servers', *command, user=user
                )
                self.assertEqual(1, exit_code, f'{user}: {command}')
                self.assertEqual('', stdout)
                self.assertEqual(
                    ['The hypervisor API refused this token (HTTP 403): '
                     'hypervisor servers commands need an admin token'],
                    stderr.strip().splitlines(),
                )  # fmt: skip
                self.assertEqual(0, self.writes(), f'{user}: {command}')
        self.assertUntouched(before, self.all_servers())


class TestFaultsPerService(base.FunctionalTestCase):
    def setUp(self):
        super().setUp()
        self.addCleanup(self.sandbox.set_faults)

    def test_faults_on_compute_leave_the_token_request_alone(self):
        self.sandbox.reset_stats()
        self.sandbox.set_faults(error_rate=1.0, methods=['POST'])
        exit_code, stdout, stderr = self.openstack('token', 'issue')
        self.assertEqual(0, exit_code, stderr)
        self.assertEqual(0, self.sandbox.stats('identity')['faulted_503'])

    def test_faults_on_identity(self):
        self.sandbox.reset_stats()
        self.sandbox.set_faults(error_rate=1.0, services=['identity'])
        exit_code, stdout, stderr = self.openstack('server', 'list')
        self.assertEqual(1, exit_code)
        self.assertIn('503', stderr)
        self.assertGreater(self.sandbox.stats('identity')['faulted_503'], 0)
        # Without a token the client never reached nova.
        self.assertEqual(0, self.sandbox.stats('compute')['total'])

    def test_faults_on_placement(self):
        placement = connect(self.sandbox).placement
        self.sandbox.set_faults(
            error_rate=1.0, services=['placement'], methods=['GET']
        )
        self.sandbox.reset_stats()
        response = placement.get('/resource_providers', raise_exc=False)
        self.assertEqual(503, response.status_code)
        stats = self.sandbox.stats('placement')
        self.assertEqual((1, 1), (stats['total'], stats['faulted_503']))
        self.sandbox.set_faults()
        response = placement.get('/resource_providers', raise_exc=False)
        self.assertEqual(200, response.status_code)


def build_nearly_full_cloud(cloud):
    """Three hosts of 8 vCPUs (``base.RACKS``), two of them nearly full,
    and one anti-affinity group with members on rack-1 and rack-3, which
    is alone in availability zone az-2.

    The example of doc/source/contributor/testing.rst. Returns the
    group's ID.
    """
    status, answer = cloud.api(
        'POST',
        '/flavors',
        {'flavor': {'name': 'big', 'vcpus': 3, 'ram': 4096, 'disk': 40}},
    )
    big = answer['flavor']['id']
    # A tenant's group, in the project its servers will be in.
    status, answer = cloud.api(
        'POST',
        '/os-server-groups',
        {
            'server_group': {
                'name': 'spread',
                'policy': 'anti-affinity',
                'rules': {'max_server_per_host': 1},
            }
        },
        project=cloud.projects[0],
        microversion='2.64',
    )
    group = answer['server_group']['id']
    status, answer = cloud.api(
        'POST',
        '/os-aggregates',
        {'aggregate': {'name': 'az-2', 'availability_zone': 'az-2'}},
    )
    cloud.api(
        'POST',
        f'/os-aggregates/{answer["aggregate"]["id"]}/action',
        {'add_host': {'host': 'rack-3'}},
    )
    cloud.boot_batches(
        [
            nova_sandbox.Boot('rack-1', 2, flavor=big),  # 6 of 8 vCPUs
            nova_sandbox.Boot('rack-1', 1, group=group),  # 7: nearly full
            nova_sandbox.Boot('rack-2', 2, flavor=big),
            nova_sandbox.Boot('rack-2', 1),  # m1.tiny: 7 of 8 vCPUs
            # No host: the scheduler finds the only one in az-2.
            nova_sandbox.Boot(None, 1, group=group, availability_zone='az-2'),
        ]
    )
    return group


class TestSizedCloud(base.FunctionalTestCase):
    cloud = 'sized'
    _group = None

    def setUp(self):
        super().setUp()
        if TestSizedCloud._group is None:
            TestSizedCloud._group = build_nearly_full_cloud(self.sandbox)

    def vcpus_used(self, placement, host):
        rp = self.sandbox.hypervisors[host]
        usages = placement.get(f'/resource_providers/{rp}/usages').json()
        return usages['usages']['VCPU']

    def test_placement_through_the_catalog_shows_sizes_and_usage(self):
        placement = connect(self.sandbox).placement
        self.assertEqual(
            self.sandbox.placement_url, placement.get_endpoint().rstrip('/')
        )
        self.sandbox.reset_stats()
        rp = self.sandbox.hypervisors['rack-1']
        inventories = placement.get(
            f'/resource_providers/{rp}/inventories'
        ).json()['inventories']
        self.assertEqual(
            {
                'VCPU': (8, 1.0, 0),
                'MEMORY_MB': (16384, 1.0, 512),  # nova reserves 512 MiB
                'DISK_GB': (200, 2.0, 0),
            },
            {
                resource: (
                    inventory['total'],
                    inventory['allocation_ratio'],
                    inventory['reserved'],
                )
                for resource, inventory in inventories.items()
            },
        )
        usages = placement.get(f'/resource_providers/{rp}/usages').json()
        # Two of flavor "big" and one m1.tiny.
        self.assertEqual(
            {'VCPU': 7, 'MEMORY_MB': 2 * 4096 + 512, 'DISK_GB': 2 * 40 + 1},
            usages['usages'],
        )
        # Both reads went through the public endpoint, behind auth_token.
        self.assertEqual(2, self.sandbox.stats('placement')['total'])
        forbidden = connect(self.sandbox, nova_sandbox.MEMBER).placement.get(
            f'/resource_providers/{rp}/usages', raise_exc=False
        )
        self.assertEqual(403, forbidden.status_code)

    def test_the_scheduler_puts_a_member_where_the_group_and_room_allow(self):
        placement = connect(self.sandbox).placement
        # rack-1 and rack-3 have a member: only rack-2 may take one.
        self.assertEqual(7, self.vcpus_used(placement, 'rack-2'))
        (member,) = self.sandbox.boot(None, 1, group=self._group)
        self.assertEqual('rack-2', self.server(member)['OS-EXT-SRV-ATTR:host'])
        self.assertEqual(8, self.vcpus_used(placement, 'rack-2'))
        group = self.api('GET', f'/os-server-groups/{self._group}')
        members = [
            self.server(server_id)
            for server_id in group['server_group']['members']
        ]
        self.assertEqual(
            {('rack-1', 'nova'), ('rack-2', 'nova'), ('rack-3', 'az-2')},
            {
                (
                    server['OS-EXT-SRV-ATTR:host'],
                    server['OS-EXT-AZ:availability_zone'],
                )
                for server in members
            },
        )
