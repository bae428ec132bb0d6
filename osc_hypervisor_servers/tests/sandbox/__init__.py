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

"""A real nova-api with fake hypervisors, on loopback, for tests and demos.

The sandbox runs nova 34.0.0's own functional-test harness
(``nova.tests.functional``) in a child process: conductor, scheduler and
one ``FakeDriver`` compute service per host name talk over oslo.messaging's
``fake://`` transport, placement runs in-process, and Glance, Neutron and
Cinder are nova's in-process fakes.  waitress serves the ``osapi_compute``
paste app over real HTTP on 127.0.0.1, so the ``openstack`` and ``nova``
command line clients talk to it as to any cloud.  Servers are booted
through the API itself (``POST /servers`` at 2.74 with ``host``).

From Python, without importing nova in the calling process::

    from osc_hypervisor_servers.tests import sandbox

    with sandbox.NovaSandbox(['compute-1', 'compute-2'],
                             servers_per_host=4) as cloud:
        subprocess.run(['openstack', 'hypervisor', 'list'], env=cloud.env())
        status, body = cloud.api('GET', '/servers/detail?all_tenants=1')

By hand (see ``--help``)::

    python -m osc_hypervisor_servers.tests.sandbox \\
        --host compute-1 --host compute-10 --servers-per-host 4 --projects 2

Two processes, and the modules each of them imports:

- the parent, which uses the sandbox: ``client`` (``NovaSandbox``: start,
  stop, the clients' environment, API and control calls) and
  ``protocol`` (what both sides agree on: token, paths, ready line).
  Neither imports nova, so the parent stays free of nova's
  monkeypatching and import-order rules; a functional test checks it.
- the child, started as ``python -m`` this package: ``__main__`` (command
  line, start-up, ready line, shutdown), ``cloud`` (nova's harness as a
  long-running cloud: the only module that knows ``nova.tests``),
  ``traffic`` (statistics, latency, faults, control paths),
  ``keystone`` (what stands in for keystone) and ``wsgi`` (their WSGI
  types and JSON answers).

How a request travels in the child, outside in:

1. ``traffic.TrafficControl`` (plain WSGI, before nova) answers the
   sandbox's own paths itself: ``/_sandbox/...`` (statistics, latency,
   faults, booting) and ``/identity`` (a keystone v3 version document).
   Every other request counts in the statistics, sleeps the configured
   latency, and may be answered 503 or dropped.
2. ``keystone.token_context_filter`` stands where keystonemiddleware would
   in the paste pipeline: ``X-Auth-Token: user:project`` becomes a nova
   request context.  Policy is nova's real default policy.
3. nova's API, database code, RPC, scheduler and computes, unchanged.

Each ``NovaSandbox`` is its own child process, with its own port and
state directory: a test may run several at once.
"""

from osc_hypervisor_servers.tests.sandbox.client import NovaSandbox
from osc_hypervisor_servers.tests.sandbox.protocol import ADMIN_TOKEN

__all__ = ['ADMIN_TOKEN', 'NovaSandbox']
