# The escapes a hostile program tries, for the sandbox's tests (sandbox/tests/escapes.rs) and
# the service's (tests/api/sandbox.rs), which each add their table of probes: every probe
# raises unless it reached what it tries. argv[1]: JSON of the paths, ports, syscall numbers
# and names the probes need.
import ctypes, json, os, socket, sys
a = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def ok(r):
    if r < 0:
        raise OSError(ctypes.get_errno(), "refused")
    return r
MS_REMOUNT, MS_BIND = 32, 4096
def remount(path):
    ok(libc.mount(None, path.encode(), None, MS_REMOUNT | MS_BIND, None))
def write(path, data="pwned"):
    with open(path, "w") as f:
        f.write(data)
def read(path):
    with open(path, "rb") as f:
        return f.read()
def remount_write(mount_point, canary):
    remount(mount_point)
    write(canary)
def sysctl():
    try:
        remount("/proc/sys")
    except OSError:
        pass
    write(a["sysctl"], a["sysctl_value"])
def cgroup_raise():
    os.makedirs("/tmp/cg", exist_ok=True)
    ok(libc.mount(b"cgroup", b"/tmp/cg", b"cgroup", 0, b"memory"))
    # The memory+swap cap first: it may never be below the memory cap.
    for name in ("memory.memsw.limit_in_bytes", "memory.limit_in_bytes"):
        if os.path.exists("/tmp/cg/" + name):
            write("/tmp/cg/" + name, str(1 << 30))
def nested_user_namespace():
    ok(libc.unshare(0x10000000))
def io_uring():
    params = ctypes.create_string_buffer(120)
    ok(libc.syscall(a["nr"]["io_uring_setup"], 8, params))
def ptrace():
    child = os.fork()
    if child == 0:
        import time
        time.sleep(60)
        os._exit(0)
    try:
        ok(libc.ptrace(16, child, None, None))  # PTRACE_ATTACH
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)
def userfaultfd():
    ok(libc.syscall(a["nr"]["userfaultfd"], 0o2000000 | 1))  # O_CLOEXEC | UFFD_USER_MODE_ONLY
def keyctl():
    ok(libc.syscall(a["nr"]["keyctl"], 0, -3, 1))  # KEYCTL_GET_KEYRING_ID, session, create
def inherited_fds():
    found = []
    for fd in range(3, 1024):
        try:
            os.fstat(fd)
            found.append(fd)
        except OSError:
            pass
    for fd in found:
        try:
            os.write(fd, b"pwned\n")
        except OSError:
            pass
    if not found:
        raise LookupError("only 0-2")
def fill(path):
    chunk = b"x" * (1 << 20)
    with open(path, "wb") as f:
        for _ in range(a["fill_mb"]):
            f.write(chunk)
            f.flush()
def host_hostname():
    if socket.gethostname() != a["hostname"]:
        raise LookupError("own hostname")
def capabilities():
    for line in read("/proc/self/status").decode().splitlines():
        if line.startswith("CapEff:") and int(line.split()[1], 16) != 0:
            return
    raise LookupError("none")
def connect(port):
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
def find(name, needle):
    for pid in os.listdir("/proc"):
        try:
            if needle in read(f"/proc/{pid}/{name}"):
                return
        except OSError:
            pass
    raise LookupError("not in sight")
def secret():
    if "QRUN_TEST_SECRET" in os.environ:
        return
    for pid in os.listdir("/proc"):
        try:
            if b"QRUN_TEST_SECRET=" in read(f"/proc/{pid}/environ"):
                return
        except OSError:
            pass
    raise LookupError("no secret")
def tried(probe):
    """Whether `probe` succeeds, tried in a child process (a probe may change the process)."""
    child = os.fork()
    if child == 0:
        try:
            probe()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(child, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
