"""The example in PROTOCOL.md is what the code encodes, byte for byte."""
import json
import os
import re

from protocol import server_wire as w
from tests.realparts import ROOT


def block(text, tag):
    m = re.search(r"```\w+ %s\n(.*?)```" % re.escape(tag), text, re.S)
    assert m, "block %s missing from PROTOCOL.md" % tag
    return m.group(1)


def test_example_matches_document():
    text = open(os.path.join(ROOT, "protocol", "PROTOCOL.md"), encoding="utf-8").read()
    example = json.loads(block(text, "example-batch"))
    doc_bytes = bytes.fromhex("".join(line.split("|")[0].replace(" ", "")
                                      for line in block(text, "example-bytes").splitlines()))
    anchor = tuple(example["anchor"])
    votes = [tuple(v) for v in example["votes"]]
    assert w.encode_batch(example["device_id"], example["boot"], votes, anchor) == doc_bytes
    assert "encodes to these %d bytes" % len(doc_bytes) in text
    assert w.decode_batch(doc_bytes).votes == votes
