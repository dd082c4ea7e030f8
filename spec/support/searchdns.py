"""searchdns.py PORT: a UDP DNS server on 127.0.0.1:PORT whose answer for
each name of a search list is spelled in the name, for gai_spec's walks of
resolv.conf's search list. A question's first label is "h-" then one
letter per suffix of the search list "s1.test s2.test", then "-" and one
letter for the name as it was given (with no suffix):

  o  NOERROR, an A record 192.0.2.N (N: 1 for s1, 2 for s2, 9 as given)
     and no AAAA record
  d  NOERROR, no record (the name exists, no address: NODATA)
  x  NXDOMAIN           s  SERVFAIL
  r  REFUSED            q  no answer at all

So "h-dr-x.s1.test" is NODATA, "h-dr-x.s2.test" REFUSED, "h-dr-x" and
"h-dr-x.w" NXDOMAIN. Any other name is NXDOMAIN.
"""
import socket
import struct
import sys

port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))

RCODE = {"o": 0, "d": 0, "x": 3, "s": 2, "r": 5}


def parse(q):
    labels, i = [], 12
    while q[i] != 0:
        labels.append(q[i + 1:i + 1 + q[i]].decode(errors="replace").lower())
        i += 1 + q[i]
    qtype = struct.unpack(">H", q[i + 1:i + 3])[0]
    return labels, qtype, i + 5


def outcome(labels):
    first = labels[0].split("-")
    if len(first) != 3 or first[0] != "h":
        return "x", 0
    rest = ".".join(labels[1:])
    for n, suffix in enumerate(("s1.test", "s2.test")):
        if rest == suffix or rest.endswith("." + suffix):
            return (first[1][n] if n < len(first[1]) else "x"), n + 1
    return first[2][:1] or "x", 9


def answer(q):
    labels, qtype, qend = parse(q)
    what, n = outcome(labels) if labels else ("x", 0)
    if what == "q":
        return None
    rcode = RCODE.get(what, 3)
    answers, count = b"", 0
    if what == "o" and qtype == 1:
        answers = b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 300, 4) \
            + bytes([192, 0, 2, n])
        count = 1
    # QR, opcode of the question, AA, RD of the question; RA
    flags1 = 0x84 | (q[2] & 0x79)
    header = q[0:2] + struct.pack(">BBHHHH", flags1, 0x80 | rcode, 1, count,
                                  0, 0)
    return header + q[12:qend] + answers


while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 17:
        continue
    try:
        a = answer(q)
    except (IndexError, struct.error):
        continue
    if a is not None:
        s.sendto(a, peer)
