"""Local stand-ins for Entra ID, the App Service managed-identity endpoint and a backend.

The cores (`directory`, `issuer`, `forge`) are pure and take their clock and randomness as
arguments; `http_apps` is a thin Starlette layer over them and `server` runs any ASGI app on
127.0.0.1 on a port the OS picks. Where Azure's behaviour is documented the emulators follow
it; where it is not, they make the strict choice and their docstrings say so.
"""
