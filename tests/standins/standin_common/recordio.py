"""RecordIO framing used by the Mesos v1 streaming APIs: ``<length>\\n<record>``."""
import json


def encode(obj):
    data = json.dumps(obj).encode("utf-8") if not isinstance(obj, (bytes, bytearray)) else bytes(obj)
    return b"%d\n%s" % (len(data), data)


class Decoder:
    """Incremental decoder: feed bytes, get complete records."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                break
            head = self.buf[:nl].strip()
            if not head:
                self.buf = self.buf[nl + 1:]
                continue
            try:
                n = int(head)
            except ValueError:
                raise ValueError("Invalid RecordIO length %r" % head[:32])
            if len(self.buf) < nl + 1 + n:
                break
            record = self.buf[nl + 1:nl + 1 + n]
            self.buf = self.buf[nl + 1 + n:]
            out.append(record)
        return out
