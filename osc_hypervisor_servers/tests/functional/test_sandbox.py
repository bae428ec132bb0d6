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

"""The sandbox itself: what its users rely on beyond nova's API."""

import json
import subprocess
import sys

import testtools

from osc_hypervisor_servers.tests import sandbox as nova_sandbox
from osc_hypervisor_servers.tests.functional import base

CHILD_ONLY_MODULES = """
import json, sys
import osc_hypervisor_servers.tests.sandbox
from osc_hypervisor_servers.tests.sandbox import client
print(json.dumps(sorted(
    name for name in sys.modules
    if name.split('.')[0] in ('nova', 'keystone', 'placement')
)))
"""


class TestSandbox(testtools.TestCase):
    def test_the_parent_never_imports_nova_or_keystone(self):
        # In a fresh interpreter: this one may have imported anything.
        process = subprocess.run(
            [sys.executable, '-c', CHILD_ONLY_MODULES],
            capture_output=True,
            text=True,
            check=True,
        )
        self.assertEqual([], json.loads(process.stdout))

    def test_a_second_sandbox_with_max_limit_runs_beside_the_first(self):
        first = base.sandbox()
        with nova_sandbox.NovaSandbox(
            ['compute-1', 'compute-2'], servers_per_host=3, max_limit=4
        ) as second:
            self.assertNotEqual(first.port, second.port)
            self.assertNotEqual(first.clouds_yaml, second.clouds_yaml)
            project_9 = second.add_project('project-9')
            booted = second.boot_batches(
                [('compute-1', 1, None), ('compute-2', 2, project_9)]
            )
            self.assertEqual([1, 2], [len(booted[h]) for h in booted])
            self.assertEqual(4, len(second.servers['compute-1']))
            path = '/servers/detail?all_tenants=1'
            status, page = second.api('GET', path)
            self.assertEqual(200, status)
            self.assertEqual(4, len(page['servers']))
            self.assertIn('servers_links', page)
            servers = second.api_list(path, 'servers')
            self.assertEqual(
                sorted(sum(second.servers.values(), [])),
                sorted(server['id'] for server in servers),
            )
            in_project_9 = [
                server['id']
                for server in servers
                if server['tenant_id'] == project_9
            ]
            self.assertEqual(sorted(booted['compute-2']), sorted(in_project_9))
            # The same host names, two clouds: neither sees the other's.
            self.assertFalse(
                {server['id'] for server in servers}
                & set(sum(first.servers.values(), []))
            )
            process = subprocess.run(
                ['openstack', 'hypervisor', 'list', '-f', 'json'],
                env=second.env(),
                capture_output=True,
                text=True,
                check=True,
            )
            self.assertEqual(
                sorted(second.hypervisors.values()),
                sorted(row['ID'] for row in json.loads(process.stdout)),
            )
        self.assertIsNone(second.process)
