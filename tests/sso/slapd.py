"""A real OpenLDAP server (Debian's ``slapd``) for the LDAP login tests.

Runs from a temporary directory: a ``slapd.conf`` (mdb database, suffix ``dc=example,dc=org``),
the directory seeded offline with ``slapadd``, listening only on ``ldap://127.0.0.1:<free port>/``.

The seeded directory::

    ou=people     alice (Alice Sato, 佐藤 アリス), bob, carol; admin (a directory entry that
                  must not take over the portal's local admin)
    ou=services   cn=portal, the portal's service account (bind and search)
    ou=groups     cn=ops (alice, bob), cn=leaders (alice), cn=cab (bob)   groupOfNames
    ou=posix      cn=ops (memberUid alice)                              posixGroup

With ``tls=True`` the server also offers StartTLS, with a certificate for 127.0.0.1 signed by a
test CA made for the run (``ca_file``).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

SUFFIX = "dc=example,dc=org"
PEOPLE = f"ou=people,{SUFFIX}"
GROUPS = f"ou=groups,{SUFFIX}"
POSIX = f"ou=posix,{SUFFIX}"
SERVICE_DN = f"cn=portal,ou=services,{SUFFIX}"
SERVICE_PASSWORD = "portal-service-secret"  # noqa: S105 - test directory only
ROOT_DN = f"cn=root,{SUFFIX}"
ROOT_PASSWORD = "root-secret"  # noqa: S105 - test directory only
PASSWORDS = {"alice": "alice-pw-1", "bob": "bob-pw-1", "carol": "carol-pw-1", "admin": "dir-admin"}

SLAPD = shutil.which("slapd") or "/usr/sbin/slapd"
SLAPADD = shutil.which("slapadd") or "/usr/sbin/slapadd"
SCHEMA = Path("/etc/ldap/schema")
MODULES = Path("/usr/lib/ldap")


def require_python_ldap() -> None:
    """At a test module's top: python-ldap and django-auth-ldap (``make install`` adds them when
    the libldap/libsasl headers exist); skipped without them, except in CI."""
    try:
        import django_auth_ldap  # noqa: F401
        import ldap  # noqa: F401
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("needs python-ldap and django-auth-ldap", allow_module_level=True)


def require_slapd() -> None:
    """Skip without slapd on a developer's machine; fail in CI, where it must be installed."""
    if Path(SLAPD).exists() and Path(SLAPADD).exists() and SCHEMA.is_dir():
        return
    message = "needs OpenLDAP's slapd (apt-get install slapd ldap-utils)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must run the LDAP login tests against a real slapd")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certificates(tmp: Path) -> tuple[Path, Path, Path]:
    """A test CA and a server certificate for 127.0.0.1 / localhost: (ca, cert, key) PEM files."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    # Wide validity: the suite may run on a shifted clock (ITSM_TEST_NOW) while slapd keeps the
    # machine's time.
    now = datetime.datetime.now(datetime.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def build(subject, issuer, public_key, signing_key, *, ca: bool, san=None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=3650))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = build(
        name("ITSM test CA"), name("ITSM test CA"), ca_key.public_key(), ca_key, ca=True
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = build(
        name("127.0.0.1"),
        ca_cert.subject,
        key.public_key(),
        ca_key,
        ca=False,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )
    pem = serialization.Encoding.PEM
    paths = (tmp / "ca.pem", tmp / "server.pem", tmp / "server.key")
    paths[0].write_bytes(ca_cert.public_bytes(pem))
    paths[1].write_bytes(cert.public_bytes(pem))
    paths[2].write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


def _conf(tmp: Path, tls: tuple[Path, Path, Path] | None = None) -> str:
    schemas = "\n".join(
        f"include {SCHEMA / name}.schema" for name in ("core", "cosine", "inetorgperson", "nis")
    )
    tls_lines = ""
    if tls:
        ca, cert, key = tls
        tls_lines = (
            f"TLSCACertificateFile {ca}\nTLSCertificateFile {cert}\nTLSCertificateKeyFile {key}\n"
        )
    return f"""{schemas}
{tls_lines}modulepath {MODULES}
moduleload back_mdb
pidfile {tmp / "slapd.pid"}
argsfile {tmp / "slapd.args"}

database mdb
maxsize 10485760
suffix "{SUFFIX}"
rootdn "{ROOT_DN}"
rootpw {ROOT_PASSWORD}
directory {tmp / "data"}
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
"""


def _entry(dn: str, **attrs) -> str:
    lines = [f"dn: {dn}"]
    for name, values in attrs.items():
        for value in values if isinstance(values, list) else [values]:
            lines.append(f"{name}: {value}")
    return "\n".join(lines) + "\n"


def _person(uid: str, given: str, sn: str, display: str) -> str:
    return _entry(
        f"uid={uid},{PEOPLE}",
        objectClass=["inetOrgPerson"],
        uid=uid,
        cn=f"{given} {sn}",
        givenName=given,
        sn=sn,
        displayName=display,
        mail=f"{uid}@example.org",
        userPassword=PASSWORDS[uid],
    )


def seed_ldif() -> str:
    entries = [
        _entry(SUFFIX, objectClass=["dcObject", "organization"], dc="example", o="Example"),
        _entry(PEOPLE, objectClass="organizationalUnit", ou="people"),
        _entry(f"ou=services,{SUFFIX}", objectClass="organizationalUnit", ou="services"),
        _entry(GROUPS, objectClass="organizationalUnit", ou="groups"),
        _entry(POSIX, objectClass="organizationalUnit", ou="posix"),
        _entry(
            SERVICE_DN,
            objectClass=["organizationalRole", "simpleSecurityObject"],
            cn="portal",
            userPassword=SERVICE_PASSWORD,
        ),
        _person("alice", "Alice", "Sato", "佐藤 アリス"),
        _person("bob", "Bob", "Suzuki", "Bob Suzuki"),
        _person("carol", "Carol", "Tanaka", "Carol Tanaka"),
        _person("admin", "Directory", "Admin", "Directory Admin"),
        _entry(
            f"cn=ops,{GROUPS}",
            objectClass="groupOfNames",
            cn="ops",
            member=[f"uid=alice,{PEOPLE}", f"uid=bob,{PEOPLE}"],
        ),
        _entry(
            f"cn=leaders,{GROUPS}",
            objectClass="groupOfNames",
            cn="leaders",
            member=[f"uid=alice,{PEOPLE}"],
        ),
        _entry(
            f"cn=cab,{GROUPS}", objectClass="groupOfNames", cn="cab", member=[f"uid=bob,{PEOPLE}"]
        ),
        _entry(
            f"cn=ops,{POSIX}",
            objectClass="posixGroup",
            cn="ops",
            gidNumber="5000",
            memberUid="alice",
        ),
    ]
    return "\n".join(entries)


class Slapd:
    """One slapd process on a private port; ``stop()`` ends it (the tests' "server down")."""

    def __init__(self, tmp: Path, *, tls: bool = False):
        self.tmp = tmp
        self.tls = make_certificates(tmp) if tls else None
        self.ca_file = self.tls[0] if self.tls else None
        self.port = free_port()
        self.uri = f"ldap://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None

    def start(self) -> Slapd:
        (self.tmp / "data").mkdir(parents=True, exist_ok=True)
        conf = self.tmp / "slapd.conf"
        conf.write_text(_conf(self.tmp, self.tls))
        (self.tmp / "seed.ldif").write_text(seed_ldif())
        subprocess.run(  # noqa: S603 - fixed arguments, local binary
            [SLAPADD, "-f", str(conf), "-l", str(self.tmp / "seed.ldif")],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.log = (self.tmp / "slapd.log").open("w")
        self.process = subprocess.Popen(  # noqa: S603
            [SLAPD, "-f", str(conf), "-h", self.uri, "-d", "0"],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"slapd exited: {(self.tmp / 'slapd.log').read_text()[-2000:]}")
            try:
                self.connection(ROOT_DN, ROOT_PASSWORD).unbind_s()
                return self
            except Exception:  # noqa: BLE001 - not listening yet
                time.sleep(0.1)
        raise RuntimeError("slapd did not start within 30 s")

    def connection(self, who: str = ROOT_DN, password: str = ROOT_PASSWORD):
        import ldap

        conn = ldap.initialize(self.uri, bytes_mode=False)
        conn.set_option(ldap.OPT_NETWORK_TIMEOUT, 2)
        conn.simple_bind_s(who, password)
        return conn

    def set_members(self, group_dn: str, members: list[str]) -> None:
        """Replace a groupOfNames' members, as a directory administrator would."""
        import ldap

        conn = self.connection()
        try:
            conn.modify_s(group_dn, [(ldap.MOD_REPLACE, "member", [m.encode() for m in members])])
        finally:
            conn.unbind_s()

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        self.log.close()
