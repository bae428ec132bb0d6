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

NOVA_MODULES = """
import json, sys
import osc_hypervisor_servers.tests.sandbox
from osc_hypervisor_servers.tests.sandbox import client
print(json.dumps(sorted(
    name for name in sys.modules if name.split('.')[0] == 'nova'
)))
"""


class TestSandbox(testtools.TestCase):
    def test_the_parent_never_imports_nova(self):
        # In a fresh interpreter: this one may have imported anything.
        process = subprocess.run(
            [sys.executable, '-c', NOVA_MODULES],
            capture_output=True,
            text=True,
            check=True,
        )
        self.assertEqual([], json.loads(process.stdout))
