"""A real gRPC server for crates/suites/tests/browsers/grpc_web.rs (grpcio, no protoc: generic
handlers with raw bytes in and out). Binds 127.0.0.1 on a free port, prints
the port on stdout, and serves until stdin closes (so it never outlives the
test). Service edge.Echo:

  Echo      replies "echo: <request> (authorization: <its metadata>)" with
            initial metadata x-internal-trace: headers, a message, trailers.
  Deny      fails before any reply: PERMISSION_DENIED, DENY_MESSAGE and a
            grpc-status-details-bin trailer, sent trailers-only (one HEADERS
            frame ending the stream, no DATA).
  DenyLate  sends its initial metadata, then fails with PERMISSION_DENIED
            and LATE_MESSAGE: headers first, the status in trailers.
"""
import sys
from concurrent import futures

import grpc

DENY_MESSAGE = "caller lacks the reader role"
LATE_MESSAGE = "denied after the headers were sent"
# google.rpc.Status {code: 7, message: DENY_MESSAGE}, encoded by hand.
DETAILS = bytes([0x08, 7, 0x12, len(DENY_MESSAGE)]) + DENY_MESSAGE.encode()


def echo(request, context):
    auth = dict(context.invocation_metadata()).get("authorization", "(none)")
    context.send_initial_metadata((("x-internal-trace", "t-1"),))
    return b"echo: " + request + b" (authorization: " + auth.encode() + b")"


def deny(request, context):
    context.set_trailing_metadata((("grpc-status-details-bin", DETAILS),))
    context.abort(grpc.StatusCode.PERMISSION_DENIED, DENY_MESSAGE)


def deny_late(request, context):
    context.send_initial_metadata(())
    context.abort(grpc.StatusCode.PERMISSION_DENIED, LATE_MESSAGE)


def raw(fn):
    return grpc.unary_unary_rpc_method_handler(fn, request_deserializer=lambda b: b, response_serializer=lambda b: b)


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler("edge.Echo", {"Echo": raw(echo), "Deny": raw(deny), "DenyLate": raw(deny_late)}),)
    )
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(port, flush=True)
    sys.stdin.read()
    server.stop(0)


if __name__ == "__main__":
    main()
