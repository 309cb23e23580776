"""The security headers of every answer, set in one place (the
`on_response_prepare` signal, so that streams, errors and static files get
them too):

- a Content-Security-Policy that runs no inline script or style and loads
  nothing from elsewhere (scripts and stylesheets are files under /static/,
  charts are inline SVG whose geometry is in attributes), posts forms only
  here and lets no page frame ours (`frame-ancestors 'none'`, and
  X-Frame-Options for older browsers);
- X-Content-Type-Options: nosniff;
- Referrer-Policy: no-referrer (screen addresses carry their key).
"""
from aiohttp import web

CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
))
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(add_headers)


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(HEADERS)
