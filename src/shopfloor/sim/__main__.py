"""Run the simulated plant on its own: ``python -m shopfloor.sim --help``.

Example: serve the PLCs and publish to a local broker at 10x real time for one simulated hour,
then write the ground truth::

    python -m shopfloor.sim --speed 10 --duration 1h --mqtt 127.0.0.1:1883 \\
        --modbus-port 5020 --opcua-port 4840 --truth truth.csv
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from ..core.assets import Plant
from ..core.clock import parse_duration
from .runtime import Endpoints, run_realtime
from .simulation import DEFAULT_PLANT, NS, Simulation

log = logging.getLogger("shopfloor.sim")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m shopfloor.sim",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--plant", default=str(DEFAULT_PLANT), help="plant file (default: the paper mill)")
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same plant)")
    p.add_argument("--speed", type=float, default=1.0, help="x real time (default 1)")
    p.add_argument("--tick", type=float, default=1.0, help="simulated seconds per tick (default 1)")
    p.add_argument(
        "--duration", default=None, help="simulated duration, e.g. 30m, 6h (default: until Ctrl-C)"
    )
    p.add_argument("--mqtt", default=None, help="publish to this broker, host:port")
    p.add_argument("--modbus-port", type=int, default=None, help="serve Modbus TCP here (0 = free port)")
    p.add_argument("--opcua-port", type=int, default=None, help="serve OPC UA here (0 = free port)")
    p.add_argument("--truth", default=None, help="write the ground truth CSV here on exit")
    return p


async def _main(args: argparse.Namespace) -> int:
    sim = Simulation(Plant.load(args.plant), seed=args.seed)
    mqtt = None
    if args.mqtt:
        host, _, port = args.mqtt.rpartition(":")
        mqtt = (host or "127.0.0.1", int(port))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    def ready(ep: Endpoints) -> None:
        sys.stdout.write(
            f"plant {sim.plant.name!r}: {len(sim.machines)} machines, {sim.tag_count} tags\n"
            f"  modbus: {f'127.0.0.1:{ep.modbus_port}' if ep.modbus_port else '-'}\n"
            f"  opc ua: {ep.opcua_url or '-'}\n  mqtt:   {args.mqtt or '-'}\n"
        )
        sys.stdout.flush()

    duration = parse_duration(args.duration) / NS if args.duration else None
    ticks = await run_realtime(
        sim,
        speed=args.speed,
        tick_s=args.tick,
        mqtt=mqtt,
        modbus_port=args.modbus_port,
        opcua_port=args.opcua_port,
        duration_s=duration,
        stop=stop,
        ready=ready,
    )
    if args.truth:
        n = sim.ground_truth.to_csv(args.truth)
        sys.stdout.write(f"{ticks} ticks; {n} ground-truth records written to {args.truth}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(asyncio.run(_main(_parser().parse_args())))
