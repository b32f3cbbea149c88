"""HTTP and sockets.

the permission guard, log-in, security headers, JSON API, OpenAPI, Open311, downloads, health,
Socket.IO.
"""
