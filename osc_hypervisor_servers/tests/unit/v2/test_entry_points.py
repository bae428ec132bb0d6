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

"""The plugin's commands are found by OSC and shadow none of OSC's own.

This reads the installed entry points, so it needs the package installed
(``pip install .``, as tox does).
"""

from importlib import metadata

from cliff import commandmanager
import testtools

from osc_hypervisor_servers.v2 import hypervisor_servers
from osc_hypervisor_servers.v2 import maintain

GROUP = 'openstack.compute.v2'
VERBS = ('set', 'unset', 'restore', 'migrate', 'evacuate', 'maintain')


def command_manager():
    # The way openstackclient's shell loads its commands.
    manager = commandmanager.CommandManager('openstack.cli')
    manager.add_command_group(GROUP)
    return manager


class TestEntryPoints(testtools.TestCase):
    def test_commands_resolve_to_the_plugin(self):
        manager = command_manager()
        for verb, expected in [
            ('set', hypervisor_servers.SetHypervisorServers),
            ('unset', hypervisor_servers.UnsetHypervisorServers),
            ('restore', hypervisor_servers.RestoreHypervisorServers),
            ('migrate', hypervisor_servers.MigrateHypervisorServers),
            ('evacuate', hypervisor_servers.EvacuateHypervisorServers),
            ('maintain', maintain.MaintainHypervisorServers),
        ]:
            command_class, name, remaining = manager.find_command(
                ['hypervisor', 'servers', verb, 'compute-1']
            )
            self.assertIs(expected, command_class)
            self.assertEqual(['compute-1'], remaining)

    def test_osc_hypervisor_commands_are_not_shadowed(self):
        manager = command_manager()
        for argv, module in [
            (['hypervisor', 'show', 'x'], 'openstackclient.compute.v2'),
            (['hypervisor', 'list'], 'openstackclient.compute.v2'),
            (['hypervisor', 'stats', 'show'], 'openstackclient.compute.v2'),
        ]:
            command_class, name, remaining = manager.find_command(argv)
            self.assertTrue(command_class.__module__.startswith(module))

    def test_names_are_not_used_by_another_package(self):
        owners: dict[str, set[str]] = {}
        for entry_point in metadata.entry_points(group=GROUP):
            owners.setdefault(entry_point.name, set()).add(
                entry_point.value.split(':')[0].split('.')[0]
            )
        for verb in VERBS:
            self.assertEqual(
                {'osc_hypervisor_servers'},
                owners[f'hypervisor_servers_{verb}'],
            )
