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

"""A real nova-api and keystone with fake hypervisors, on loopback.

The sandbox runs nova 34.0.0's own functional-test harness
(``nova.tests.functional``) in a child process: conductor, scheduler and
one ``FakeDriver`` compute service per host name talk over oslo.messaging's
``fake://`` transport, placement runs in-process, and Glance, Neutron and
Cinder are nova's in-process fakes.  Keystone 30.0.0 (nova's release)
runs in a process of its own, the nova child's child.  waitress serves
compute, placement and identity over real HTTP on one port of 127.0.0.1,
and keystone's catalog lists them there, so the ``openstack`` and
``nova`` command line clients authenticate with a password and find
their services as in any cloud.  Servers are booted through the API
itself (``POST /servers`` at 2.74, with ``host``, or where the scheduler
puts them).

From Python, without importing nova or keystone in the calling process::

    from osc_hypervisor_servers.tests import sandbox

    with sandbox.NovaSandbox(['compute-1', 'compute-2'],
                             servers_per_host=4) as cloud:
        subprocess.run(['openstack', 'hypervisor', 'list'], env=cloud.env())
        status, body = cloud.api('GET', '/servers/detail?all_tenants=1')

By hand (see ``--help``)::

    python -m osc_hypervisor_servers.tests.sandbox \\
        --host compute-1 --host compute-10:8,16384,200 --projects 2

Three processes, and the modules each of them imports:

- the parent, which uses the sandbox: ``client`` (``NovaSandbox``: start,
  stop, the clients' environment, tokens, API and control calls) and
  ``protocol`` (what all of them agree on: users, paths, ready lines).
  Neither imports nova or keystone, so the parent stays free of their
  monkeypatching, import-order rules and global configuration; a
  functional test checks it.
- the nova child, started as ``python -m`` this package: ``__main__``
  (command line, start-up, ready line, shutdown), ``cloud`` (nova's
  harness as a long-running cloud: the only module that knows
  ``nova.tests``), ``traffic`` (statistics, latency, faults per service,
  control paths) and ``wsgi`` (WSGI types, JSON answers, the proxy to
  keystone).
- the keystone child, ``python -m`` this package's ``identity``: keystone
  configured, migrated and bootstrapped, then served.  nova and keystone
  cannot share a process: both configure oslo.config's global ``CONF``.

How a client's request travels, outside in:

1. waitress on the public port, then ``traffic.TrafficControl`` (plain
   WSGI): ``/_sandbox/...`` (statistics, latency, faults, booting) is
   the sandbox's own; anything else counts in the statistics of its
   service, sleeps the configured latency, and may be answered 503 or
   dropped if that service is faulted.
2. by path: ``/identity`` is forwarded to keystone's port (keystone builds
   its links from the ``Host`` header, which the proxy keeps);
   ``/placement`` goes to placement's own keystone pipeline; anything
   else to nova's api-paste.ini pipeline.
3. keystonemiddleware's ``auth_token`` validates the token with keystone
   at its internal endpoint (which bypasses traffic control), then nova
   or placement, with their real default policies, database code, RPC,
   scheduler and computes.

Users, all with ``protocol.PASSWORD``: ``admin`` (role admin in project
``admin``, and in every sandbox project, for booting there), ``member``
and ``reader`` (those roles in every sandbox project ``project-1`` ..
``project-N``).  clouds.yaml in the state directory has a cloud for each:
``sandbox``, ``sandbox-member``, ``sandbox-reader``.

Each ``NovaSandbox`` is its own pair of processes, with its own port and
state directory: a test may run several at once.
"""

from osc_hypervisor_servers.tests.sandbox.client import NovaSandbox
from osc_hypervisor_servers.tests.sandbox.protocol import ADMIN
from osc_hypervisor_servers.tests.sandbox.protocol import CLOUDS
from osc_hypervisor_servers.tests.sandbox.protocol import MEMBER
from osc_hypervisor_servers.tests.sandbox.protocol import READER
from osc_hypervisor_servers.tests.sandbox.protocol import Boot
from osc_hypervisor_servers.tests.sandbox.protocol import Host

__all__ = [
    'ADMIN',
    'CLOUDS',
    'MEMBER',
    'READER',
    'Boot',
    'Host',
    'NovaSandbox',
]
