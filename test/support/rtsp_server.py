#!/usr/bin/python3
"""Test RTSP server: the GStreamer RTSP server serving every video in a folder as rtsp://HOST:PORT/<name>.

Usage: rtsp_server.py --port N --media DIR [--host 127.0.0.1]
Basic auth is enabled when GUARDIAN_TEST_RTSP_AUTH=user:password is set (kept out of the command line).
Prints "READY <port>" once it listens.
"""
import argparse
import os
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--media", required=True)
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    mounts = server.get_mount_points()

    auth_spec = os.environ.get("GUARDIAN_TEST_RTSP_AUTH")
    permissions = None
    if auth_spec:
        user, password = auth_spec.split(":", 1)
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("user", "media.factory.access", True)
        permissions.add_permission_for_role("user", "media.factory.construct", True)

    for name in sorted(os.listdir(args.media)):
        if not name.endswith(".mp4"):
            continue
        path = os.path.join(args.media, name)
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            f'( filesrc location="{path}" ! qtdemux ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )'
        )
        factory.set_shared(False)
        if permissions is not None:
            factory.set_permissions(permissions)
        mounts.add_factory("/" + name[: -len(".mp4")], factory)

    if server.attach(None) == 0:
        print(f"cannot listen on {args.host}:{args.port}", file=sys.stderr)
        sys.exit(1)
    loop = GLib.MainLoop()
    signal.signal(signal.SIGTERM, lambda *_: loop.quit())
    print(f"READY {args.port}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
