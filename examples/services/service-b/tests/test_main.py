import json

from service_b.main import run


def test_prints_count_mean_and_greeting(capsys) -> None:
    assert run(["1", "2", "3"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"count": 3, "mean": 2.0, "std": out["std"], "greeting": "Hello from greeting, service-b!"}


def test_refuses_a_word(capsys) -> None:
    assert run(["one"]) == 2
    assert "not a number: 'one'" in capsys.readouterr().err
