import json

import click
from pydantic import BaseModel, Field


class Record(BaseModel):
    name: str = Field(min_length=1)
    count: int = Field(ge=0)


@click.command()
@click.argument("name")
@click.argument("count", type=int)
def main(name: str, count: int) -> None:
    """Validate NAME and COUNT and print them as JSON."""
    record = Record(name=name, count=count)
    click.echo(json.dumps({"service": "poetry-service", "record": record.model_dump()}))


if __name__ == "__main__":
    main()
