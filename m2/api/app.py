"""The WSGI application of the M2 API.

The middleware stack, outermost first (order matters):
1. JSONErrorMiddleware — every error leaving the app is a JSON body, including
   the 401 of auth_token and pecan's own 404/405;
2. keystonemiddleware auth_token (``[api] auth_strategy = keystone``) —
   rejects unauthenticated requests before any of our code runs and sets the
   X-Roles/X-Project-Id headers the context hook reads; only version
   discovery (GET ``/`` and ``/v1``) bypasses it;
3. the pecan app with its hooks: context → conductor client → error mapping.
"""

import pecan

from m2.api import hooks, middleware
from m2.conductor import data as image_data
from m2.conductor import rpcapi
from m2.conf import CONF


def setup_app(conductor_api=None, manager=None):
    """Build the WSGI app; ``manager`` is the in-process conductor (local)."""
    if conductor_api is None:
        conductor_api = rpcapi.ConductorAPI(manager)
    storage = manager.drivers['storage'] if manager is not None else None
    app = pecan.make_app(
        'm2.api.controllers.root.RootController',
        hooks=[hooks.ContextHook(),
               hooks.ConductorHook(conductor_api, image_data.ImageData(storage)),
               hooks.ErrorHook()],
        force_canonical=False,
        guess_content_type_from_ext=False,
    )
    if CONF.api.auth_strategy == 'keystone':
        from keystonemiddleware import auth_token
        # Our own CONF, already loaded from m2-server's --config-file: with
        # 'oslo_config_project' auth_token would parse a private ConfigOpts
        # from the default paths only and miss [keystone_authtoken].
        app = middleware.PublicPathsMiddleware(
            app, auth_token.AuthProtocol(app, {'oslo_config_config': CONF}))
    return middleware.JSONErrorMiddleware(app)
