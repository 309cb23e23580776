# Ed25519 signature verification (RFC 8032, cofactorless) in plain
# MicroPython: big ints for the field, and SHA-512 written here because the
# rp2 and ESP32 builds of hashlib have SHA-256 only. Used only to check a
# firmware release: imported while updating, never in the steady state.
# `steps()` yields every few bits of the scalar multiplication, so the
# update task can let the buttons run while it checks a signature.

_P = 2 ** 255 - 19
_L = 2 ** 252 + 27742317777372353535851937790883648493
_D = (-121665 * pow(121666, _P - 2, _P)) % _P
_D2 = (2 * _D) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)
_BY = (4 * pow(5, _P - 2, _P)) % _P


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


def _decode(s):
    # 32 bytes -> (x, y), or None when they are no point of the curve.
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return x, y


def _add(p, q):
    # Extended coordinates (X, Y, Z, T), a = -1 (RFC 8032, 5.1.4).
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = p[3] * _D2 % _P * q[3] % _P
    d = 2 * p[2] * q[2] % _P
    e = b - a
    f = d - c
    g = d + c
    h = b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


_K = None


def _k():
    global _K
    if _K is None:
        # The SHA-512 round constants: the first 64 bits of the fractional
        # parts of the cube roots of the first 80 primes, as in FIPS 180-4.
        _K = [int(h, 16) for h in (
            "428a2f98d728ae22 7137449123ef65cd b5c0fbcfec4d3b2f e9b5dba58189dbbc "
            "3956c25bf348b538 59f111f1b605d019 923f82a4af194f9b ab1c5ed5da6d8118 "
            "d807aa98a3030242 12835b0145706fbe 243185be4ee4b28c 550c7dc3d5ffb4e2 "
            "72be5d74f27b896f 80deb1fe3b1696b1 9bdc06a725c71235 c19bf174cf692694 "
            "e49b69c19ef14ad2 efbe4786384f25e3 0fc19dc68b8cd5b5 240ca1cc77ac9c65 "
            "2de92c6f592b0275 4a7484aa6ea6e483 5cb0a9dcbd41fbd4 76f988da831153b5 "
            "983e5152ee66dfab a831c66d2db43210 b00327c898fb213f bf597fc7beef0ee4 "
            "c6e00bf33da88fc2 d5a79147930aa725 06ca6351e003826f 142929670a0e6e70 "
            "27b70a8546d22ffc 2e1b21385c26c926 4d2c6dfc5ac42aed 53380d139d95b3df "
            "650a73548baf63de 766a0abb3c77b2a8 81c2c92e47edaee6 92722c851482353b "
            "a2bfe8a14cf10364 a81a664bbc423001 c24b8b70d0f89791 c76c51a30654be30 "
            "d192e819d6ef5218 d69906245565a910 f40e35855771202a 106aa07032bbd1b8 "
            "19a4c116b8d2d0c8 1e376c085141ab53 2748774cdf8eeb99 34b0bcb5e19b48a8 "
            "391c0cb3c5c95a63 4ed8aa4ae3418acb 5b9cca4f7763e373 682e6ff3d6b2b8a3 "
            "748f82ee5defb2fc 78a5636f43172f60 84c87814a1f0ab72 8cc702081a6439ec "
            "90befffa23631e28 a4506cebde82bde9 bef9a3f7b2c67915 c67178f2e372532b "
            "ca273eceea26619c d186b8c721c0c207 eada7dd6cde0eb1e f57d4f7fee6ed178 "
            "06f067aa72176fba 0a637dc5a2c898a6 113f9804bef90dae 1b710b35131c471b "
            "28db77f523047d84 32caab7b40c72493 3c9ebe0a15c9bebc 431d67c49c100d4c "
            "4cc5d4becb3e42b6 597f299cfc657e2a 5fcb6fab3ad6faec 6c44198c4a475817").split()]
    return _K


_M = 0xFFFFFFFFFFFFFFFF


def _r(x, n):
    return ((x >> n) | (x << (64 - n))) & _M


def sha512(data):
    """SHA-512 digest (64 bytes) of `data` (FIPS 180-4)."""
    k = _k()
    h = [0x6a09e667f3bcc908, 0xbb67ae8584caa73b, 0x3c6ef372fe94f82b, 0xa54ff53a5f1d36f1,
         0x510e527fade682d1, 0x9b05688c2b3e6c1f, 0x1f83d9abfb41bd6b, 0x5be0cd19137e2179]
    n = len(data)
    pad = bytearray(b"\x80") + bytes((111 - n) % 128) + (n * 8).to_bytes(16, "big")
    msg = bytes(data) + pad
    w = [0] * 80
    for off in range(0, len(msg), 128):
        for i in range(16):
            w[i] = int.from_bytes(msg[off + 8 * i:off + 8 * i + 8], "big")
        for i in range(16, 80):
            x = w[i - 15]
            y = w[i - 2]
            s0 = _r(x, 1) ^ _r(x, 8) ^ (x >> 7)
            s1 = _r(y, 19) ^ _r(y, 61) ^ (y >> 6)
            w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & _M
        a, b, c, d, e, f, g, hh = h
        for i in range(80):
            t1 = (hh + (_r(e, 14) ^ _r(e, 18) ^ _r(e, 41)) + ((e & f) ^ ((e ^ _M) & g)) + k[i]
                  + w[i]) & _M
            t2 = ((_r(a, 28) ^ _r(a, 34) ^ _r(a, 39)) + ((a & b) ^ (a & c) ^ (b & c))) & _M
            hh = g
            g = f
            f = e
            e = (d + t1) & _M
            d = c
            c = b
            b = a
            a = (t1 + t2) & _M
        h = [(x + y) & _M for x, y in zip(h, (a, b, c, d, e, f, g, hh))]
    out = bytearray()
    for x in h:
        out += x.to_bytes(8, "big")
    return bytes(out)


def steps(pub, msg, sig, out):
    """Check `sig` (64 bytes) over `msg` with the public key `pub` (32
    bytes); a generator that yields during the work. out[0] is True once
    the signature is good, False otherwise."""
    out[0] = False
    if len(pub) != 32 or len(sig) != 64:
        return
    a = _decode(pub)
    r = _decode(sig[:32])
    s = int.from_bytes(sig[32:], "little")
    if a is None or r is None or s >= _L:
        return
    yield
    k = int.from_bytes(sha512(sig[:32] + pub + msg), "little") % _L
    yield
    # [s]B - [k]A, both at once (Straus): one doubling per bit.
    bx = _recover_x(_BY, 0)
    b = (bx, _BY, 1, bx * _BY % _P)
    na = (_P - a[0], a[1], 1, (_P - a[0]) * a[1] % _P)
    both = _add(b, na)
    q = (0, 1, 1, 0)
    for i in range(255, -1, -1):
        q = _add(q, q)
        sb = (s >> i) & 1
        kb = (k >> i) & 1
        if sb and kb:
            q = _add(q, both)
        elif sb:
            q = _add(q, b)
        elif kb:
            q = _add(q, na)
        if not i & 7:
            yield
    # Equal to R, in projective terms: no inversion needed.
    out[0] = (q[0] - r[0] * q[2]) % _P == 0 and (q[1] - r[1] * q[2]) % _P == 0


def verify(pub, msg, sig):
    """True when `sig` is a valid Ed25519 signature of `msg` by `pub`."""
    out = [False]
    for _ in steps(pub, msg, sig, out):
        pass
    return out[0]
