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


from keystoneauth1 import session as ksa_session
import requests
import testtools

from osc_hypervisor_servers.runner import connections
from osc_hypervisor_servers.tests.unit import fakes


class TestFitPool(testtools.TestCase):
    def setUp(self):
        super().setUp()
        self.compute = fakes.make_compute(fakes.FakeNova())

    def pool_sizes(self):
        return {
            scheme: adapter._pool_maxsize
            for scheme, adapter in self.compute.session.adapters.items()
        }

    def test_grows_to_the_parallelism(self):
        self.assertEqual({'https://': 10, 'http://': 10}, self.pool_sizes())
        connections.fit_pool(self.compute, 32)
        self.assertEqual({'https://': 32, 'http://': 32}, self.pool_sizes())
        for adapter in self.compute.session.adapters.values():
            # keystoneauth's adapter keeps TCP keep-alive and Nagle off.
            self.assertIsInstance(adapter, ksa_session.TCPKeepAliveAdapter)

    def test_never_shrinks(self):
        connections.fit_pool(self.compute, 4)
        self.assertEqual({'https://': 10, 'http://': 10}, self.pool_sizes())

    def test_tls_settings_are_kept(self):
        self.compute.session.mount(
            'https://',
            ksa_session.TCPKeepAliveAdapter(tls_ciphers='HIGH'),
        )
        connections.fit_pool(self.compute, 20)
        self.assertEqual(
            'HIGH', self.compute.session.adapters['https://'].tls_ciphers
        )

    def test_other_adapters_are_left_alone(self):
        custom = requests.adapters.BaseAdapter()
        self.compute.session.mount('https://', custom)
        connections.fit_pool(self.compute, 20)
        self.assertIs(custom, self.compute.session.adapters['https://'])
