# A change of campaign (protocol version 2), written to the journal's /jcamp
# before the first vote under it (see journal.py). Imported only by a kiosk
# whose config names a consultation, at its first change: a kiosk that only
# takes satisfaction votes never loads it.
import struct

from journal import ENOSPC


def set_campaign(j, campaign):
    """The votes that journal j appends from now on answer `campaign`:
    saved before them. Entries whose votes are all acked are forgotten; an
    entry no vote came under is replaced."""
    if campaign == j.campaign:
        return
    n = j.next_seq
    lo = j.acked + 1
    entries = [e for e in j.camps if e[0] < n]
    entries.append((n, campaign))
    out = []
    for i in range(len(entries)):
        if i + 1 < len(entries) and entries[i + 1][0] <= lo:
            continue  # every vote of this entry is acked
        if (out[-1][1] if out else 0) != entries[i][1]:
            out.append(entries[i])
    data = bytearray(6 * len(out))
    for i in range(len(out)):
        struct.pack_into(">IH", data, 6 * i, out[i][0], out[i][1])
    while True:
        try:
            with open(j.proot + "camp", "wb") as f:  # /jcamp
                f.write(data)
            break
        except OSError as e:
            # Flash full: the oldest pending votes go, as for a vote.
            if e.errno != ENOSPC or not j._drop_oldest():
                raise
    j.camps = out
    j.campaign = campaign
