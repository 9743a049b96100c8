import json
import sys

import anyio


async def _square(n: int, out: dict) -> None:
    await anyio.sleep(0)
    out[n] = n * n


async def _run(numbers: list[int]) -> dict:
    out: dict = {}
    async with anyio.create_task_group() as tg:
        for n in numbers:
            tg.start_soon(_square, n, out)
    return out


def main() -> None:
    numbers = [int(a) for a in sys.argv[1:]] or [1, 2, 3]
    squares = anyio.run(_run, numbers)
    print(json.dumps({"service": "requirements-service", "squares": [squares[n] for n in numbers]}))


if __name__ == "__main__":
    main()
