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

import subprocess
import sys

import testtools


class TestStartUp(testtools.TestCase):
    def test_entry_point_module_imports_only_what_its_parsers_need(self):
        # cliff imports every command module for "openstack --help"; the
        # SDK, tenacity and the wings must wait until a command runs.
        loaded = subprocess.run(
            [
                sys.executable,
                '-c',
                'import sys\n'
                'import osc_hypervisor_servers.v2.hypervisor_servers\n'
                'print(" ".join(sorted(sys.modules)))',
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        plugin = [name for name in loaded if name.startswith('osc_hyp')]
        self.assertEqual(
            [
                'osc_hypervisor_servers',
                'osc_hypervisor_servers.moves',
                'osc_hypervisor_servers.moves.drain_options',
                'osc_hypervisor_servers.runner',
                'osc_hypervisor_servers.runner.invocation',
                'osc_hypervisor_servers.v2',
                'osc_hypervisor_servers.v2.arguments',
                'osc_hypervisor_servers.v2.hypervisor_servers',
                'osc_hypervisor_servers.v2.output',
                'osc_hypervisor_servers.version',
            ],
            plugin,
        )
        for library in ('openstack', 'tenacity', 'keystoneauth1'):
            self.assertNotIn(library, loaded)
