"""The least a Python runtime can do per invocation: read a length-prefixed
event from the socket on fd argv[1], json.loads it, call the seed handler,
json.dumps the result and send it back. No HTTP, no headers, no logging."""
import json
import socket
import sys


def lambda_handler(event, context):
    return {'statusCode': 200, 'body': json.dumps('Hello from Lambda!')}


def serve(sock):
    recv, send = sock.recv, sock.sendall
    while True:
        head = recv(4)
        if not head:
            return
        size = int.from_bytes(head, "little")
        frame = b""
        while len(frame) < size:
            frame += recv(size - len(frame))
        out = json.dumps(lambda_handler(json.loads(frame), None)).encode()
        send(len(out).to_bytes(4, "little") + out)


if __name__ == "__main__":
    serve(socket.socket(fileno=int(sys.argv[1])))
