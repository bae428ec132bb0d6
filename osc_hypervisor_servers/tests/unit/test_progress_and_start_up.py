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

import io
import subprocess
import sys

import testtools

from osc_hypervisor_servers import progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


class TestProgress(testtools.TestCase):
    def test_only_on_a_terminal(self):
        self.assertIsNone(progress.for_stream(io.StringIO()))
        self.assertIsNotNone(progress.for_stream(FakeTerminal()))

    def test_one_line_rewritten_then_cleared(self):
        stream = FakeTerminal()
        line = progress.for_stream(stream)
        assert line is not None
        line(1, 120, 0)
        line(2, 120, 1)
        line.close()
        self.assertEqual(
            '\r1 of 120 servers done, 0 failed\033[K'
            '\r2 of 120 servers done, 1 failed\033[K'
            '\r\033[K',
            stream.getvalue(),
        )

    def test_close_without_progress_writes_nothing(self):
        stream = FakeTerminal()
        line = progress.for_stream(stream)
        assert line is not None
        line.close()
        self.assertEqual('', stream.getvalue())


class TestStartUp(testtools.TestCase):
    def test_entry_point_module_imports_no_engine(self):
        # cliff imports every command module for "openstack --help"; the
        # SDK, tenacity and the engine must wait until a command runs.
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
        for module in (
            'openstack',
            'tenacity',
            'osc_hypervisor_servers.engine',
            'osc_hypervisor_servers.executor',
            'osc_hypervisor_servers.selection',
        ):
            self.assertNotIn(module, loaded)
