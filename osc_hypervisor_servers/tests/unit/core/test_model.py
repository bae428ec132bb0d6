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
from osc_hypervisor_servers.tests.unit import fakes


class TestServerState(testtools.TestCase):
    def test_from_nova(self):
        server = fakes.nova_server(
            'compute-1',
            server_id='s1',
            name='web',
            metadata={'a': '1'},
            tags=['t'],
            description='d',
            task_state='migrating',
            compute_host='host-a',
        )
        self.assertEqual(
            model.ServerState(
                id='s1',
                name='web',
                project_id='project-a',
                hypervisor_hostname='compute-1',
                compute_host='host-a',
                status='ACTIVE',
                vm_state='active',
                task_state='migrating',
                metadata={'a': '1'},
                tags=frozenset({'t'}),
                description='d',
            ),
            model.ServerState.from_nova(server),
        )

    def test_what_nova_leaves_out(self):
        # A server name may be null; admin fields are absent for others.
        state = model.ServerState.from_nova({'id': 's1', 'name': None})
        self.assertEqual(model.ServerState(id='s1'), state)
        self.assertEqual('', state.name)
        self.assertIsNone(state.hypervisor_hostname)
