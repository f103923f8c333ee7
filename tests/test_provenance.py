import json

from sslvit_lite.provenance import provenance, provenance_caption


def test_provenance_is_json_and_caption_names_its_parts():
    record = provenance(device="cpu", preset="smoke", epochs=2, data="CIFAR-10 test SAMPLE")
    json.dumps(record)
    caption = provenance_caption(record)
    for part in ("preset smoke", "2 epochs", "CPU", "commit", "SAMPLE"):
        assert part in caption
    assert record["commit"]
    located = provenance_caption({**record, "data": "cifar10 train, from /home/me/data/cifar10-train.zip"})
    assert "cifar10 train" in located and "/home/me" not in located
    from sslvit_lite.provenance import without_paths

    assert without_paths("cifar10 test, from /data/c/cifar10-test.zip, subset of 512 (seed 0)") == \
        "cifar10 test, subset of 512 (seed 0)"
    from sslvit_lite.provenance import strip_paths

    assert strip_paths({"a": ["x, from /p/q.zip", 1], "b": {"c": "y from /r"}}) == {"a": ["x", 1], "b": {"c": "y"}}
