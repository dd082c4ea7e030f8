"""fakedns.py PORT: a UDP DNS server on 127.0.0.1:PORT that answers badly
on purpose, for the resolve spec. The first label of the question picks
the answer:

  servfail  rcode SERVFAIL          notimp    rcode NOTIMP
  silent    no answer at all        badlen    an A record of 5 bytes
  short     ANCOUNT 2, one record   overrun   RDLENGTH past the end
  ptrloop   a name pointing at itself (compression loop)
  cnameloop a CNAME to b, b a CNAME to a
  cnamechain 100 distinct CNAMEs in a row (no loop), then an A record
            (too big for UDP: sent with TC set, and whole over TCP)
  garbage   a header and then nothing that parses
  wrongid   an answer with another id (dropped: the asker times out)
  anything else: one A record 192.0.2.1
"""
import socket
import struct
import sys
import threading

port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))


def question_end(q):
    i = 12
    while q[i] != 0:
        i += 1 + q[i]
    return i + 5  # the zero byte, type, class


def rr(name, rtype, rdata, rdlen=None):
    if rdlen is None:
        rdlen = len(rdata)
    return name + struct.pack(">HHIH", rtype, 1, 300, rdlen) + rdata


def label(s):
    out = b""
    for part in s.split("."):
        out += bytes([len(part)]) + part.encode()
    return out + b"\0"


def answer(q):
    qend = question_end(q)
    question = q[12:qend]
    first = q[13:13 + q[12]].decode(errors="replace")
    qid = q[0:2]
    rcode, answers, count = 0, b"", 0
    ptr = b"\xc0\x0c"  # the name of the question
    if first == "silent":
        return None
    elif first == "servfail":
        rcode = 2
    elif first == "notimp":
        rcode = 4
    elif first == "badlen":
        answers, count = rr(ptr, 1, b"\x01\x02\x03\x04\x05"), 1
    elif first == "short":
        answers, count = rr(ptr, 1, b"\xc0\x00\x02\x01"), 2
    elif first == "overrun":
        answers, count = rr(ptr, 1, b"\xc0\x00\x02\x01", rdlen=200), 1
    elif first == "ptrloop":
        # the answer's owner is a pointer to itself
        off = 12 + len(question)
        answers = struct.pack(">H", 0xc000 | off) + struct.pack(
            ">HHIH", 1, 1, 300, 4) + b"\xc0\x00\x02\x01"
        count = 1
    elif first == "cnameloop":
        b = label("b.loop.test")
        answers = rr(ptr, 5, b) + rr(b, 5, ptr)
        count = 2
    elif first == "cnamechain":
        # names xy.<question>, each a pointer-compressed two-letter label
        digits = "abcdefghijklmnopqrstuvwxyz0123456789"
        off = 12 + len(question)
        owner = ptr
        for i in range(100):
            lab = digits[i // 36] + digits[i % 36]
            target = b"\x02" + lab.encode() + ptr
            answers += rr(owner, 5, target)
            tpos = off + len(answers) - len(target)
            owner = struct.pack(">H", 0xc000 | tpos)
        answers += rr(owner, 1, b"\xc0\x00\x02\x01")
        count = 101
    elif first == "garbage":
        answers, count = b"\x07garb", 3
    elif first == "wrongid":
        qid = bytes([q[0] ^ 0xff, q[1]])
        answers, count = rr(ptr, 1, b"\xc0\x00\x02\x01"), 1
    else:
        qtype = struct.unpack(">H", q[qend - 4:qend - 2])[0]
        if qtype == 1:
            answers, count = rr(ptr, 1, b"\xc0\x00\x02\x01"), 1
    header = qid + struct.pack(">BBHHHH", 0x81, 0x80 | rcode, 1, count, 0, 0)
    return header + question + answers


def tcp():
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", port))
    t.listen(8)
    while True:
        c, _ = t.accept()
        try:
            n = struct.unpack(">H", c.recv(2))[0]
            q = b""
            while len(q) < n:
                q += c.recv(n - len(q))
            a = answer(q)
            if a is not None:
                c.sendall(struct.pack(">H", len(a)) + a)
        except Exception:
            pass
        c.close()


threading.Thread(target=tcp, daemon=True).start()
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 17:
        continue
    a = answer(q)
    if a is None:
        continue
    if len(a) > 512:  # truncated: the whole answer is over TCP
        a = a[:2] + bytes([a[2] | 0x02]) + a[3:6] + b"\0\0\0\0\0\0" \
            + a[12:question_end(q)]
    s.sendto(a, peer)
