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

"""An HTTP connection pool as large as the parallelism asked for.

requests keeps 10 connections per host; with more workers than that,
urllib3 opens a connection for each extra request and discards it after
("Connection pool is full"), paying a TCP (and TLS) handshake each time.
"""

from __future__ import annotations

from keystoneauth1 import session as ksa_session
from openstack.compute.v2 import _proxy
import requests

SCHEMES = ('https://', 'http://')


def fit_pool(compute: _proxy.Proxy, size: int) -> None:
    """Let the compute session keep ``size`` connections per host.

    Mounted on the keystoneauth session that every client of this
    ``openstack`` process shares; only ever grows the pool.
    """
    session = compute.session
    for scheme in SCHEMES:
        current = session.adapters.get(scheme)
        # requests' HTTPAdapter keeps its pool size only in this
        # attribute; an adapter of another kind is left as it is.
        if (
            not isinstance(current, requests.adapters.HTTPAdapter)
            or current._pool_maxsize >= size
        ):
            continue
        session.mount(
            scheme,
            ksa_session.TCPKeepAliveAdapter(
                pool_maxsize=size,
                tls_ciphers=getattr(current, 'tls_ciphers', None),
                tls_min_version=getattr(current, 'tls_min_version', None),
            ),
        )
