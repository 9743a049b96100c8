from greeting import greet


def test_greet_uses_the_packaged_template() -> None:
    assert greet("world") == "Hello from greeting, world!"


def test_greet_keeps_the_name_as_given() -> None:
    assert greet("Ada Lovelace").endswith(", Ada Lovelace!")
