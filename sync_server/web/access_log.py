"""The access log, without secrets: the values of the route's secret parts
(a QR form's token in /f/{token}) and of secret query parameters (a screen's
`key=`) are written as `***`. Nor does it carry the client's address (%a):
citizens' QR answers must not be traceable to an IP address, even in logs.
Each line: [time] "METHOD path HTTP/x.y" status bytes seconds."""
import datetime
import logging
import re
from urllib.parse import quote, urlencode

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

SECRET_NAMES = frozenset(("key", "token", "secret", "access_token", "csrf", "password"))
# An address no route matched may still hold a QR form's token.
_FORM_PATH = re.compile(r"^/f/[^/]+")
MASK = "***"


def redacted(request: web.BaseRequest) -> str:
    """The request's path and query with their secrets masked."""
    path = request.path
    info = getattr(request, "match_info", None)
    resource = info.route.resource if info is not None else None
    if resource is not None and info is not None:
        for name, value in info.items():
            if name in SECRET_NAMES and value:
                path = path.replace(value, MASK)
    else:
        path = _FORM_PATH.sub("/f/" + MASK, path)
    if not request.query:
        return quote(path, safe="/*")
    query = [(k, MASK if k.lower() in SECRET_NAMES else v) for k, v in request.query.items()]
    return quote(path, safe="/*") + "?" + urlencode(query, safe="*")


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse,
            time: float) -> None:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%d/%b/%Y:%H:%M:%S %z")
        self.logger.info('[%s] "%s %s HTTP/%d.%d" %d %d %.6f', now, request.method,
                         redacted(request), request.version.major, request.version.minor,
                         response.status, response.body_length, time)

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)
