"""Address helpers (libprocess-like IP/hostname resolution)."""
import logging
import socket
import struct
import subprocess

log = logging.getLogger(__name__)


def ip_to_uint32(ip):
    """MasterInfo.ip: the IPv4 address in network byte order, read as a uint32.

    127.0.1.1 -> 16842879 (as in the operator API documentation).
    """
    return struct.unpack("<I", socket.inet_aton(ip))[0]


def uint32_to_ip(value):
    return socket.inet_ntoa(struct.pack("<I", int(value)))


def valid_ipv4(ip):
    try:
        socket.inet_aton(ip)
        return ip.count(".") == 3
    except OSError:
        return False


class Address:
    """Where a Mesos process binds and what it advertises."""

    def __init__(self, bind_ip, port, advertise_ip, advertise_port, hostname):
        self.bind_ip = bind_ip
        self.port = port
        self.advertise_ip = advertise_ip
        self.advertise_port = advertise_port
        self.hostname = hostname

    def url(self):
        return "http://%s:%d" % (self.advertise_ip, self.advertise_port)


def resolve_address(flags, default_port):
    """Mirror libprocess: --ip or --ip_discovery_command, --advertise_ip, --hostname."""
    if flags.get("ip") and flags.get("ip_discovery_command"):
        raise ValueError("Only one of `--ip` or `--ip_discovery_command` should be specified")
    bind_ip = flags.get("ip")
    if flags.get("ip_discovery_command"):
        out = subprocess.run(flags.get("ip_discovery_command"), shell=True, capture_output=True, text=True)
        if out.returncode != 0:
            raise ValueError("Failed to run ip_discovery_command: %s" % out.stderr.strip())
        bind_ip = out.stdout.strip()
    if bind_ip and not valid_ipv4(bind_ip):
        raise ValueError("Failed to parse the IP address '%s'" % bind_ip)
    bind_ip = bind_ip or "0.0.0.0"
    port = int(flags.get("port") or default_port)

    advertise_ip = flags.get("advertise_ip")
    if advertise_ip and not valid_ipv4(advertise_ip):
        raise ValueError("Failed to parse the advertise IP '%s'" % advertise_ip)
    if not advertise_ip:
        if bind_ip != "0.0.0.0":
            advertise_ip = bind_ip
        else:
            try:
                advertise_ip = socket.gethostbyname(socket.gethostname())
            except OSError:
                advertise_ip = "127.0.0.1"
            if advertise_ip.startswith("127."):
                log.warning("Hostname resolves to a loopback address %s; using it as the advertised IP",
                            advertise_ip)
    advertise_port = int(flags.get("advertise_port") or port)

    hostname = flags.get("hostname")
    if not hostname:
        if flags.get("hostname_lookup", True):
            try:
                hostname = socket.gethostbyaddr(advertise_ip)[0]
            except OSError:
                hostname = advertise_ip
        else:
            hostname = advertise_ip
    return Address(bind_ip, port, advertise_ip, advertise_port, hostname)
