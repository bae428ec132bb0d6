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

"""What stands in for keystone in the sandbox (child process only).

nova 34 removed its ``noauth2`` middleware, and the sandbox runs no
keystone.  Two pieces take its place:

- ``token_context_filter``, a paste filter where keystonemiddleware
  would be in nova's pipeline (see ``api_paste_ini()``): ``X-Auth-Token:
  user:project`` becomes a nova request context; user ``admin`` has the
  admin role, any other user is a member of that project.  No token is
  validated.
- ``identity_document()``, the keystone v3 version document: OSC 10.5
  asks for it before it starts, even with the ``admin_token`` plugin that
  never calls keystone (``traffic.TrafficControl`` serves it under
  ``protocol.IDENTITY_PREFIX``).
"""

from collections.abc import Callable
from collections.abc import Iterable
from typing import Any

from osc_hypervisor_servers.tests.sandbox import protocol
from osc_hypervisor_servers.tests.sandbox import wsgi


def token_context_filter(
    global_conf: dict[str, str], **local_conf: str
) -> Callable[[wsgi.App], wsgi.App]:
    """Paste filter factory: ``X-Auth-Token: user:project`` -> context."""
    # Paste calls this once nova's harness (cloud.py) has imported nova in
    # the right order; importing nova here at module level would not be
    # safe for a module the parent could import by mistake.
    from nova import context as nova_context

    def make_filter(app: wsgi.App) -> wsgi.App:
        def middleware(
            environ: wsgi.Environ, start_response: wsgi.StartResponse
        ) -> Iterable[bytes]:
            token = environ.get('HTTP_X_AUTH_TOKEN', '')
            user, _colon, project = token.partition(':')
            if not (user and project):
                return wsgi.json_response(
                    start_response,
                    '401 Unauthorized',
                    {'message': 'X-Auth-Token must be user:project'},
                )
            roles = ['reader', 'member']
            if user == 'admin':
                roles.append('admin')
            environ['nova.context'] = nova_context.RequestContext(
                user_id=user,
                project_id=project,
                user_name=user,
                project_name=project,
                roles=roles,
                auth_token=token,
                remote_address=environ.get('REMOTE_ADDR'),
            )
            return app(environ, start_response)

        return middleware

    return make_filter


def api_paste_ini() -> str:
    """The ``osapi_compute`` part of nova's api-paste.ini, with keystone's
    filters replaced by ``token_context_filter``.
    """
    return _API_PASTE_INI.format(module=__name__)


_API_PASTE_INI = """\
[composite:osapi_compute]
use = call:nova.api.openstack.urlmap:urlmap_factory
/: versions
/v2.1: version_v21
/v2.1/+: api_v21

[pipeline:versions]
pipeline = faultwrap request_log versions_app

[pipeline:version_v21]
pipeline = compute_req_id faultwrap request_log version_v21_app

[pipeline:api_v21]
pipeline = compute_req_id faultwrap request_log sizelimit token_context \
api_v21_app

[filter:compute_req_id]
paste.filter_factory = nova.api.compute_req_id:ComputeReqIdMiddleware.factory

[filter:faultwrap]
paste.filter_factory = nova.api.openstack:FaultWrapper.factory

[filter:request_log]
paste.filter_factory = nova.api.openstack.requestlog:RequestLog.factory

[filter:sizelimit]
paste.filter_factory = oslo_middleware:RequestBodySizeLimiter.factory

[filter:token_context]
paste.filter_factory = {module}:token_context_filter

[app:versions_app]
paste.app_factory = nova.api.openstack.compute.versions:Versions.factory

[app:version_v21_app]
paste.app_factory = nova.api.openstack.compute.versions:VersionsV2.factory

[app:api_v21_app]
paste.app_factory = nova.api.openstack.compute:APIRouterV21.factory
"""


def is_identity_path(path: str) -> bool:
    """Whether ``path`` asks for the keystone version document."""
    return path.rstrip('/') in (
        protocol.IDENTITY_PREFIX,
        protocol.IDENTITY_PREFIX + '/v3',
    )


def identity_document(environ: wsgi.Environ, path: str) -> dict[str, Any]:
    """The keystone v3 version document (``/v3``) or version list."""
    v3_url = f'http://{environ["HTTP_HOST"]}{protocol.IDENTITY_PREFIX}/v3/'
    version = {
        'id': 'v3.14',
        'status': 'stable',
        'updated': '2020-04-07T00:00:00Z',
        'links': [{'rel': 'self', 'href': v3_url}],
        'media-types': [
            {
                'base': 'application/json',
                'type': 'application/vnd.openstack.identity-v3+json',
            }
        ],
    }
    if path.rstrip('/').endswith('/v3'):
        return {'version': version}
    return {'versions': {'values': [version]}}
