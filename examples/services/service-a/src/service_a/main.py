"""HTTP entry point of service-a."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import uvicorn
from fastapi import FastAPI

from greeting import greet

SERVICE_NAME = "service-a"

app = FastAPI(title=SERVICE_NAME)


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok", "service": SERVICE_NAME, "greeting": greet(SERVICE_NAME)}


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=SERVICE_NAME, description="Serve the service-a HTTP API.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    args = parser.parse_args(argv)
    # The app object is passed directly (not an "module:attr" import string),
    # so uvicorn needs no import lookup and runs in a single process.
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
