"""Property tests of the wire protocol (10,000 examples each, see conftest)."""
import struct

from hypothesis import given
from hypothesis import strategies as st

from protocol import server_wire as w

ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
              min_size=1, max_size=32)
u48 = st.integers(0, w.MAX_U48)


@st.composite
def vote_lists(draw):
    seqs = sorted(draw(st.sets(st.integers(0, w.MAX_U32), max_size=20)))
    votes = []
    for seq in seqs:
        scale = draw(st.integers(2, 4))
        votes.append((seq, draw(u48), draw(st.integers(0, scale - 1)), scale,
                      draw(st.integers(0, w.F_ALL))))
    return votes


campaigns = st.none() | st.integers(0, w.MAX_CAMPAIGN)  # None: a version 1 batch


@given(ids, st.integers(0, w.MAX_U32), vote_lists(), st.none() | st.tuples(u48, u48), campaigns)
def test_batch_roundtrip(dev, boot, votes, anchor, campaign):
    data = w.encode_batch(dev, boot, votes, anchor, campaign)
    version = 1 if campaign is None else 2
    assert data[0] == version
    assert len(data) == w.batch_size(len(dev), len(votes), anchor, version)
    got = w.decode_batch(data)
    assert got == w.Batch(dev, boot, votes, anchor, campaign or 0)
    assert got.version == version


@given(ids, st.integers(0, w.MAX_U32))
def test_ack_roundtrip(dev, seq):
    assert w.decode_ack(w.encode_ack(dev, seq)) == (dev, seq)


@given(st.binary(max_size=400))
def test_random_bytes_never_crash(data):
    for decode in (w.decode_batch, w.decode_ack):
        try:
            decode(data)
        except w.WireError:
            pass


@given(ids, vote_lists(), campaigns, st.data())
def test_any_corruption_is_refused_whole(dev, votes, campaign, data):
    """Truncating or flipping any bit of a valid batch never yields another batch."""
    good = w.encode_batch(dev, 1, votes, None, campaign)
    i = data.draw(st.integers(0, len(good) - 1))
    bad = [good[:i], good[:i] + bytes([good[i] ^ (1 << data.draw(st.integers(0, 7)))])
           + good[i + 1:]]
    for b in bad:
        try:
            got = w.decode_batch(b)
        except w.WireError:
            continue
        # A single flipped bit is always caught by the CRC; a cut never decodes.
        raise AssertionError("accepted corrupt batch %r" % (got,))


@given(st.binary(min_size=1, max_size=200))
def test_json_messages_never_crash(data):
    for decode in (w.decode_config, w.decode_time, w.decode_status, w.decode_telemetry):
        try:
            decode(data)
        except w.WireError:
            pass


def test_valid_checksum_with_bad_fields_is_refused():
    body = struct.pack(">BBBB", 1, w.KIND_VOTES, 0, 1) + b"k" + struct.pack(">IH", 0, 1)
    body += struct.pack(">IHIBBB", 1, 0, 0, 3, 3, 0)
    from binascii import crc32
    try:
        w.decode_batch(body + struct.pack(">I", crc32(body)))
    except w.LevelError:
        return
    raise AssertionError("level 3 on a 3-button scale accepted")
