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

"""One JSON read of any service, retried as every call is.

A proxy's ``get`` returns the error answer instead of raising it: the
error must be raised *inside* the retried call, or a 503 would end the
read at once instead of being retried.
"""

from __future__ import annotations

from typing import Any

from openstack import exceptions as sdk_exceptions
from openstack import proxy

from osc_hypervisor_servers.runner import retrying


def get_json(
    service: proxy.Proxy,
    retry: retrying.RetryPolicy,
    path: str,
    query: dict[str, str] | None = None,
    microversion: str | None = None,
) -> Any:
    """``GET path?query`` of ``service``, decoded; openstacksdk's error
    for an error answer, once the retries are spent.
    """

    def get() -> Any:
        response = service.get(path, params=query, microversion=microversion)
        sdk_exceptions.raise_from_response(response)
        return response.json()

    return retry.call(get)
