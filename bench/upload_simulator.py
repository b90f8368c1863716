"""The standalone simulator (`build_simulator_app`) plus one read-only route for the upload benchmark.

`GET /_bench/uploads` lists every upload the simulator received with its size and the largest
chunk it was handed, which shows it consumed the body as a stream rather than holding it.

    python -m bench.upload_simulator --port 8765 --key K
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from aai_mcp.simulator import Simulator, SimulatorConfig, build_simulator_app


async def uploads(request: Request) -> Response:
    simulator: Simulator = request.app.state.simulator
    return JSONResponse(
        [{"id": u.upload_id, "size": u.size, "max_chunk": u.max_chunk} for u in simulator.uploads.values()]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--key", required=True)
    args = parser.parse_args()
    app = build_simulator_app(SimulatorConfig(api_key=args.key, processing_delay_seconds=0))
    app.router.routes.append(Route("/_bench/uploads", uploads, methods=["GET"]))
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
